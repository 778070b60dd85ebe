"""Model objects → the JSON shapes of the Bintray REST API (reference sections 2-9).

Every function takes what the caller may see as arguments; deciding visibility is the
handlers' job, spelling fields is this module's.
"""

from __future__ import annotations

from typing import Any

from transfer.sandbox.content import Digests
from transfer.sandbox.orgdata import (
    AccessKey,
    Attribute,
    BintrayFile,
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
    Entitlement,
    Product,
    Team,
)

__all__ = [
    "access_key",
    "attribute_list",
    "entitlement",
    "file_object",
    "package",
    "product",
    "repository",
    "team",
    "version",
    "visible_attributes",
]


def visible_attributes(attributes: list[Attribute], publisher: bool) -> list[Attribute]:
    """``_``-prefixed attributes are shown to publishers only."""
    return [a for a in attributes if publisher or not a.name.startswith("_")]


def attribute_list(attributes: list[Attribute], *, upper: bool = False) -> list[dict[str, Any]]:
    """``[{name, type, values}]``; file attributes spell their type in upper case."""
    return [
        {
            "name": a.name,
            "type": a.type.upper() if upper else a.type.lower(),
            "values": list(a.values),
        }
        for a in attributes
    ]


def repository(repo: BintrayRepo, owner: str, *, debian_as_deb: bool) -> dict[str, Any]:
    """Get Repository (3.2); format-specific and Enterprise fields only when they apply."""
    kind = "deb" if debian_as_deb and repo.type == "debian" else repo.type
    body: dict[str, Any] = {
        "name": repo.name,
        "owner": owner,
        "type": kind,
        "private": repo.private,
        "premium": repo.premium,
        "desc": repo.desc,
        "labels": list(repo.labels),
        "created": repo.created,
        "package_count": len(repo.packages),
        "gpg_sign_metadata": repo.gpg_sign_metadata,
        "gpg_sign_files": repo.gpg_sign_files,
        "gpg_use_owner_key": repo.gpg_use_owner_key,
    }
    if repo.business_unit:
        body["business_unit"] = repo.business_unit
    optional = {
        "default_debian_distribution": repo.default_debian_distribution,
        "default_debian_component": repo.default_debian_component,
        "default_debian_architecture": repo.default_debian_architecture,
        "yum_metadata_depth": repo.yum_metadata_depth,
        "yum_groups_file": repo.yum_groups_file,
        "version_update_max_days": repo.version_update_max_days,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def package(
    pkg: BintrayPackage,
    repo: str,
    owner: str,
    *,
    versions: list[BintrayVersion],
    latest: str | None,
    publisher: bool,
    attribute_values: bool,
) -> dict[str, Any]:
    """Get Package (4.2); publisher-only fields are left out for other callers."""
    attributes = visible_attributes(pkg.attributes, publisher)
    body: dict[str, Any] = {
        "name": pkg.name,
        "repo": repo,
        "owner": owner,
        "desc": pkg.desc,
        "labels": list(pkg.labels),
    }
    if attribute_values:
        body["attributes"] = attribute_list(attributes)
    else:
        body["attribute_names"] = [a.name for a in attributes]
    body.update(
        {
            "licenses": list(pkg.licenses),
            "custom_licenses": list(pkg.custom_licenses),
            "followers_count": pkg.followers_count,
            "created": pkg.created,
            "updated": pkg.updated,
            "website_url": pkg.website_url,
            "issue_tracker_url": pkg.issue_tracker_url,
            "vcs_url": pkg.vcs_url,
        }
    )
    if publisher:
        body.update(
            {
                "github_repo": pkg.github_repo,
                "github_release_notes_file": pkg.github_release_notes_file,
                "public_download_numbers": pkg.public_download_numbers,
                "public_stats": pkg.public_stats,
            }
        )
    body.update(
        {
            "linked_to_repos": list(pkg.linked_to_repos),
            "permissions": list(pkg.permissions),
            "maturity": pkg.maturity,
            "versions": [v.name for v in versions],
            "latest_version": latest,
            "rating": pkg.rating,
            "rating_count": pkg.rating_count,
            "system_ids": list(pkg.system_ids),
        }
    )
    return body


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def version(
    ver: BintrayVersion,
    package_name: str,
    repo: str,
    owner: str,
    *,
    publisher: bool,
    attribute_values: bool,
) -> dict[str, Any]:
    """Get Version (5.1); ``published`` is a JSON boolean."""
    attributes = visible_attributes(ver.attributes, publisher)
    body: dict[str, Any] = {
        "name": ver.name,
        "desc": ver.desc,
        "package": package_name,
        "repo": repo,
        "owner": owner,
        "labels": list(ver.labels),
        "published": bool(ver.published),
    }
    if attribute_values:
        body["attributes"] = attribute_list(attributes)
    else:
        body["attribute_names"] = [a.name for a in attributes]
    body.update(
        {
            "created": ver.created,
            "updated": ver.updated,
            "released": ver.released,
            "ordinal": _number(ver.ordinal),
            "rating_count": ver.rating_count,
        }
    )
    if publisher:
        body.update(
            {
                "vcs_tag": ver.vcs_tag,
                "github_release_notes_file": ver.github_release_notes_file,
                "github_use_tag_release_notes": ver.github_use_tag_release_notes,
            }
        )
    return body


def file_object(file: BintrayFile, digests: Digests) -> dict[str, Any]:
    """A file-list entry: exactly the ten keys of 6.1."""
    return {
        "name": file.name,
        "path": file.path,
        "repo": file.repo,
        "package": file.package,
        "version": file.version,
        "owner": file.owner,
        "created": file.created,
        "size": file.size,
        "sha1": digests.sha1,
        "sha256": digests.sha256,
    }


def team(t: Team) -> dict[str, Any]:
    """Get Team (2.3): ``permitted_repos`` as an object repo → permission."""
    return {
        "name": t.name,
        "members": list(t.members),
        "permitted_repos": dict(t.permitted_repos),
        "allow_repo_creation": t.allow_repo_creation,
        "business_unit": t.business_unit,
    }


def access_key(key: AccessKey, subject: str, *, with_password: bool = False) -> dict[str, Any]:
    """An access-key object (9.1); the password only right after create or update."""
    body: dict[str, Any] = {"id": key.id, "username": f"{key.id}@{subject}"}
    if with_password:
        body["password"] = key.password
    if key.expiry is not None:
        body["expiry"] = key.expiry
    body.update(
        {
            "existence_check": dict(key.existence_check),
            "white_cidrs": list(key.white_cidrs),
            "black_cidrs": list(key.black_cidrs),
            "api_only": key.api_only,
        }
    )
    return body


def entitlement(
    ent: Entitlement, subject: str, *, search: bool = False, scope_detail: bool = False
) -> dict[str, Any]:
    """An entitlement (9.2). Search results carry ``{id, repo: "/subject/repo", path, access,
    access_keys, tags}`` only, as the reference documents them: nothing says which package or
    version a scoped one covers (its ``path`` is ""). ``scope_detail`` adds ``package`` and
    ``version`` (the richer shape some accounts of the API show)."""
    body: dict[str, Any] = {"id": ent.id}
    if search:
        body["repo"] = f"/{subject}/{ent.repo}"
        if scope_detail and ent.package is not None:
            body["package"] = ent.package
        if scope_detail and ent.version is not None:
            body["version"] = ent.version
    if search or ent.package is None:
        body["path"] = ent.path or ""
    body["access"] = ent.access
    body["access_keys"] = list(ent.access_keys)
    body["tags"] = list(ent.tags)
    return body


def product(p: Product) -> dict[str, Any]:
    """Get Product (8)."""
    return {
        "name": p.name,
        "display_name": p.display_name,
        "created": p.created,
        "desc": p.desc,
        "website_url": p.website_url,
        "vcs_url": p.vcs_url,
        "packages": list(p.packages),
        "versions": list(p.versions),
    }
