"""Changing the organisation while the emulator serves it: what a migration of an organisation
still in use meets (a file re-uploaded, a version or package deleted, a repository renamed or
made private). Tests call these through :class:`~transfer.sandbox.bintray.app.BintrayEmulator`;
every later response (listings, file info, downloads) reflects the change at once.
"""

from __future__ import annotations

from itertools import count

from transfer.sandbox.orgdata import BintrayFile, BintrayPackage, BintrayVersion, Organization

__all__ = [
    "delete_file",
    "delete_package",
    "delete_version",
    "make_private",
    "rename_repository",
    "replace_file",
]

_REVISIONS = count(1)


def _package(org: Organization, repo: str, package: str) -> BintrayPackage:
    try:
        return org.repos[repo].packages[package]
    except KeyError:
        raise KeyError(f"no package {repo}/{package}") from None


def _version(org: Organization, repo: str, package: str, version: str) -> BintrayVersion:
    found = next((v for v in _package(org, repo, package).versions if v.name == version), None)
    if found is None:
        raise KeyError(f"no version {repo}/{package}/{version}")
    return found


def _file(org: Organization, repo: str, path: str) -> tuple[BintrayVersion, BintrayFile]:
    for package in org.repos[repo].packages.values():
        for version in package.versions:
            for file in version.files:
                if file.path == path:
                    return version, file
    raise KeyError(f"no file {repo}/{path}")


def replace_file(org: Organization, repo: str, path: str, data: bytes) -> None:
    """The file at ``path`` now holds ``data`` (a re-upload with override: new size and
    checksums in every listing, new bytes on download)."""
    _, file = _file(org, repo, path)
    key = f"replaced:{next(_REVISIONS)}:{repo}/{path}"
    org.content.add_literal(key, data)
    file.content_key = key
    file.size = len(data)


def delete_file(org: Organization, repo: str, path: str) -> None:
    """The file is deleted (``DELETE /content/:subject/:repo/:path``)."""
    version, file = _file(org, repo, path)
    version.files.remove(file)


def delete_version(org: Organization, repo: str, package: str, version: str) -> None:
    """The version and its files are deleted."""
    owner = _package(org, repo, package)
    owner.versions.remove(_version(org, repo, package, version))


def delete_package(org: Organization, repo: str, package: str) -> None:
    """The package, its versions and files are deleted."""
    _package(org, repo, package)
    del org.repos[repo].packages[package]


def rename_repository(org: Organization, old: str, new: str) -> None:
    """The repository answers under ``new`` only (its files carry the new name)."""
    repo = org.repos.pop(old)
    repo.name = new
    org.repos[new] = repo
    for package in repo.packages.values():
        for version in package.versions:
            for file in version.files:
                file.repo = new


def make_private(org: Organization, repo: str) -> None:
    """The repository becomes private: only members with rights on it may read it."""
    org.repos[repo].private = True
