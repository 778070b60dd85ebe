"""Resolve path segments to model objects, hiding what the caller may not see.

Missing and invisible objects both answer 404 with Bintray's ``<Kind> '<name>' was not found``
messages, so a private repository's existence does not leak.
"""

from __future__ import annotations

from transfer.sandbox.bintray.auth import Rights
from transfer.sandbox.bintray.state import ApiError
from transfer.sandbox.orgdata import (
    BintrayFile,
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
    Organization,
)

__all__ = [
    "file_visible",
    "find_package",
    "find_repo",
    "find_version",
    "latest_published",
    "linked_packages",
    "require_org",
    "version_visible",
    "visible_versions",
]


def require_org(org: Organization, subject: str) -> None:
    """404 unless ``subject`` is the organisation (users own no repositories here)."""
    if subject == org.name:
        return
    if subject in org.users:
        raise ApiError(404, "Not Found")
    raise ApiError(404, f"Subject '{subject}' was not found")


def find_repo(org: Organization, who: Rights, subject: str, name: str) -> BintrayRepo:
    """The repository, if it exists and the caller may read it."""
    if subject != org.name and subject not in org.users:
        raise ApiError(404, f"Subject '{subject}' was not found")
    repo = org.repos.get(name) if subject == org.name else None
    if repo is None or not who.can_read(repo):
        raise ApiError(404, f"Repo '{name}' was not found")
    return repo


def linked_packages(org: Organization, repo: BintrayRepo) -> list[BintrayPackage]:
    """Packages of other repositories that are linked into ``repo``."""
    return [
        package
        for other in org.repos.values()
        if other is not repo
        for package in other.packages.values()
        if repo.name in package.linked_to_repos
    ]


def find_package(
    org: Organization, repo: BintrayRepo, name: str
) -> tuple[BintrayRepo, BintrayPackage]:
    """The package owned by or linked into ``repo``, with the repository that owns it."""
    package = repo.packages.get(name)
    if package is not None:
        return repo, package
    for other in org.repos.values():
        candidate = other.packages.get(name)
        if candidate is not None and repo.name in candidate.linked_to_repos:
            return other, candidate
    raise ApiError(404, f"Package '{name}' was not found")


def version_visible(version: BintrayVersion, publisher: bool) -> bool:
    """Unpublished versions exist only for publishers."""
    return publisher or version.published


def file_visible(version: BintrayVersion, file: BintrayFile, include_unpublished: bool) -> bool:
    """A file is published when it and its version are."""
    return include_unpublished or (file.published and version.published)


def visible_versions(package: BintrayPackage, publisher: bool) -> list[BintrayVersion]:
    """Versions newest first, without unpublished ones for non-publishers."""
    return [v for v in package.versions if version_visible(v, publisher)]


def latest_published(package: BintrayPackage) -> BintrayVersion | None:
    """Bintray's ``_latest``: the newest version that has at least one published file."""
    for version in package.versions:
        if version.published and any(f.published for f in version.files):
            return version
    return None


def find_version(package: BintrayPackage, name: str, publisher: bool) -> BintrayVersion:
    """The version by name (``_latest`` included), if the caller may see it."""
    if name == "_latest":
        latest = latest_published(package)
        if latest is not None:
            return latest
    else:
        for version in package.versions:
            if version.name == name and version_visible(version, publisher):
                return version
    raise ApiError(404, f"Version '{name}' was not found")
