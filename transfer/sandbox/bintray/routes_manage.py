"""Creating, updating and deleting repositories, packages, versions and teams, and linking
packages into other repositories (reference 2.3, 3.3, 4.3, 5.2).

The migration only reads Bintray, but the published clients organisations used (bintray-python
and others) manage these objects, and the emulator should answer them as Bintray did: creates
answer 201 with the new object, updates ``{"message":"success"}`` (teams: the team object),
deletes ``{"message":"success"}``; fields of the wrong type are 400, unknown ones ignored.
Guesses, each marked where made: an existing name is 409, a version created empty is
unpublished until files are published into it, and linking needs publish rights on the
repository linked into (a link's ``path_prefix`` is accepted and not kept).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import find_repo, require_org
from transfer.sandbox.bintray.routes_packages import package_context
from transfer.sandbox.bintray.routes_subjects import find_team, premium_admin
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    read_json,
    require_admin,
    require_user,
    rights,
    state,
    success,
)
from transfer.sandbox.layouts import iso_ms
from transfer.sandbox.orgdata import (
    BintrayPackage,
    BintrayRepo,
    BintrayVersion,
    Organization,
    Team,
)

__all__ = ["ROUTES"]

REPO_TYPES = (
    "maven",
    "debian",
    "conan",
    "rpm",
    "docker",
    "npm",
    "opkg",
    "nuget",
    "vagrant",
    "generic",
)
_LIST = list[str]
_REPO_UPDATES: dict[str, Any] = {
    "desc": str,
    "labels": _LIST,
    "business_unit": str,
    "gpg_sign_metadata": bool,
    "gpg_sign_files": bool,
    "gpg_use_owner_key": bool,
    "version_update_max_days": int,
}
_REPO_CREATE: dict[str, Any] = {
    **_REPO_UPDATES,
    "private": bool,
    "default_debian_distribution": str,
    "default_debian_component": str,
    "default_debian_architecture": str,
    "yum_metadata_depth": int,
    "yum_groups_file": str,
}
_PACKAGE_FIELDS: dict[str, Any] = {
    "desc": str,
    "labels": _LIST,
    "licenses": _LIST,
    "custom_licenses": _LIST,
    "vcs_url": str,
    "website_url": str,
    "issue_tracker_url": str,
    "github_repo": str,
    "github_release_notes_file": str,
    "public_download_numbers": bool,
    "public_stats": bool,
}
_VERSION_FIELDS: dict[str, Any] = {
    "desc": str,
    "released": str,
    "vcs_tag": str,
    "github_release_notes_file": str,
    "github_use_tag_release_notes": bool,
}
_TEAM_FIELDS: dict[str, Any] = {
    "members": _LIST,
    "allow_repo_creation": bool,
    "business_unit": str,
}


def _valid(value: Any, kind: Any) -> bool:
    if kind is _LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def apply_fields(target: object, body: dict[str, Any], fields: dict[str, Any]) -> None:
    """Copy the known fields of ``body`` onto ``target``; 400 on a value of the wrong type.

    ``null`` leaves a field as it is, as an omitted one would.
    """
    for name, kind in fields.items():
        value = body.get(name)
        if value is None:
            continue
        if not _valid(value, kind):
            raise ApiError(400, f"Invalid value for field '{name}'")
        setattr(target, name, list(value) if kind is _LIST else value)


async def _object_body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _new_name(body: dict[str, Any], path_name: str | None, kind: str) -> str:
    name = body.get("name", path_name)
    if not isinstance(name, str) or not name:
        raise ApiError(400, f"{kind} name is missing")
    if path_name is not None and name != path_name:
        raise ApiError(400, f"{kind} name in the body does not match the path")
    return name


def _now(request: web.Request) -> str:
    return iso_ms(int(state(request).clock() * 1000))


async def create_repo(request: web.Request) -> web.Response:
    """POST /repos/:s/:r (org admin) → 201 repository object."""
    st = state(request)
    require_org(st.org, request.match_info["subject"])
    require_admin(request)
    body = await _object_body(request)
    name = _new_name(body, request.match_info["repo"], "Repository")
    if name in st.org.repos:
        raise ApiError(409, f"Repository '{name}' already exists")  # guess: 409
    kind = body.get("type") or "generic"
    if kind not in REPO_TYPES:
        raise ApiError(400, f"Unsupported repository type '{kind}'")
    repo = BintrayRepo(name=name, type=kind, premium=st.org.premium, created=_now(request))
    apply_fields(repo, body, _REPO_CREATE)
    st.org.repos[name] = repo
    body_out = render.repository(repo, st.org.name, debian_as_deb=st.options.report_debian_as_deb)
    return json_response(body_out, status=201)


def _admin_repo(request: web.Request) -> BintrayRepo:
    require_admin(request)
    info = request.match_info
    return find_repo(state(request).org, rights(request), info["subject"], info["repo"])


async def update_repo(request: web.Request) -> web.Response:
    """PATCH /repos/:s/:r (org admin) → success."""
    repo = _admin_repo(request)
    apply_fields(repo, await _object_body(request), _REPO_UPDATES)
    return success()


async def delete_repo(request: web.Request) -> web.Response:
    """DELETE /repos/:s/:r (org admin): the repository, its team permissions and links."""
    repo = _admin_repo(request)
    org = state(request).org
    del org.repos[repo.name]
    for team in org.teams.values():
        team.permitted_repos.pop(repo.name, None)
    for other in org.repos.values():
        for package in other.packages.values():
            if repo.name in package.linked_to_repos:
                package.linked_to_repos.remove(repo.name)
    return success()


def _publisher_repo(request: web.Request) -> BintrayRepo:
    who = require_user(request)
    info = request.match_info
    repo = find_repo(state(request).org, who, info["subject"], info["repo"])
    if not who.can_publish(repo):
        raise ApiError(403, "forbidden")
    return repo


async def create_package(request: web.Request) -> web.Response:
    """POST /packages/:s/:r (publish rights) → 201 package object."""
    repo = _publisher_repo(request)
    body = await _object_body(request)
    name = _new_name(body, None, "Package")
    if name in repo.packages:
        raise ApiError(409, f"Package '{name}' already exists")  # guess: 409
    if not repo.premium and not (body.get("licenses") and body.get("vcs_url")):
        raise ApiError(400, "licenses and vcs_url are mandatory for packages of OSS repositories")
    now = _now(request)
    package = BintrayPackage(name=name, created=now, updated=now)
    apply_fields(package, body, _PACKAGE_FIELDS)
    repo.packages[name] = package
    org = state(request).org
    rendered = render.package(
        package,
        repo.name,
        org.name,
        versions=[],
        latest=None,
        publisher=True,
        attribute_values=False,
    )
    return json_response(rendered, status=201)


def _owned_package(request: web.Request) -> tuple[BintrayRepo, BintrayPackage]:
    require_user(request)
    ctx = package_context(request)
    if not ctx.publisher:
        raise ApiError(403, "forbidden")
    if ctx.repo.name != request.match_info["repo"]:
        # guess: a linked package is changed through the repository that owns it
        raise ApiError(403, "A linked package is changed in the repository that owns it")
    return ctx.repo, ctx.package


async def _update(
    request: web.Request, target: BintrayPackage | BintrayVersion, fields: dict[str, Any]
) -> web.Response:
    apply_fields(target, await _object_body(request), fields)
    target.updated = _now(request)
    return success()


async def update_package(request: web.Request) -> web.Response:
    """PATCH /packages/:s/:r/:p (publish rights) → success."""
    return await _update(request, _owned_package(request)[1], _PACKAGE_FIELDS)


async def delete_package(request: web.Request) -> web.Response:
    """DELETE /packages/:s/:r/:p (publish rights) → success."""
    repo, package = _owned_package(request)
    del repo.packages[package.name]
    return success()


async def create_version(request: web.Request) -> web.Response:
    """POST /packages/:s/:r/:p/versions (publish rights) → 201 version object."""
    repo, package = _owned_package(request)
    body = await _object_body(request)
    name = _new_name(body, None, "Version")
    if any(v.name == name for v in package.versions):
        raise ApiError(409, f"Version '{name}' already exists")  # guess: 409
    now = _now(request)
    ordinal = max((v.ordinal for v in package.versions), default=0) + 1
    # guess: unpublished until content is published into it
    version = BintrayVersion(name=name, published=False, created=now, updated=now, ordinal=ordinal)
    apply_fields(version, body, _VERSION_FIELDS)
    package.versions.insert(0, version)
    org = state(request).org
    rendered = render.version(
        version, package.name, repo.name, org.name, publisher=True, attribute_values=False
    )
    return json_response(rendered, status=201)


def _version(request: web.Request) -> tuple[BintrayPackage, BintrayVersion]:
    _, package = _owned_package(request)
    name = request.match_info["version"]
    for version in package.versions:
        if version.name == name:
            return package, version
    raise ApiError(404, f"Version '{name}' was not found")


async def update_version(request: web.Request) -> web.Response:
    """PATCH /packages/:s/:r/:p/versions/:v (publish rights) → success."""
    return await _update(request, _version(request)[1], _VERSION_FIELDS)


async def delete_version(request: web.Request) -> web.Response:
    """DELETE /packages/:s/:r/:p/versions/:v (publish rights) → success."""
    package, version = _version(request)
    package.versions.remove(version)
    return success()


def _members_known(request: web.Request, team: Team) -> None:
    org = state(request).org
    unknown = [m for m in team.members if org.member_type(m) is None]
    if unknown:
        raise ApiError(400, f"Users {', '.join(unknown)} are not members of {org.name}")


def _team_admin(request: web.Request) -> Organization:
    require_org(state(request).org, request.match_info["org"])
    return premium_admin(request)


async def create_team(request: web.Request) -> web.Response:
    """POST /orgs/:org/teams (premium, admin) → 201 team object."""
    org = _team_admin(request)
    body = await _object_body(request)
    name = _new_name(body, None, "Team")
    if name in org.teams:
        raise ApiError(409, f"Team '{name}' already exists")  # guess: 409
    team = Team(name=name, members=[], permitted_repos={})
    apply_fields(team, body, _TEAM_FIELDS)
    _members_known(request, team)
    org.teams[name] = team
    return json_response(render.team(team), status=201)


async def update_team(request: web.Request) -> web.Response:
    """PATCH /orgs/:org/teams/:team (premium, admin) → the team object."""
    org = _team_admin(request)
    team = find_team(org, request.match_info["team"])
    apply_fields(team, await _object_body(request), _TEAM_FIELDS)
    _members_known(request, team)
    return json_response(render.team(team))


async def delete_team(request: web.Request) -> web.Response:
    """DELETE /orgs/:org/teams/:team (premium, admin) → success."""
    org = _team_admin(request)
    del org.teams[find_team(org, request.match_info["team"]).name]
    return success()


def _link(request: web.Request) -> tuple[BintrayRepo, BintrayPackage]:
    """The repository linked into (publish rights needed) and the source package."""
    target = _publisher_repo(request)
    info = request.match_info
    org = state(request).org
    source = find_repo(org, rights(request), info["src_subject"], info["src_repo"])
    package = source.packages.get(info["src_package"])
    if package is None:
        raise ApiError(404, f"Package '{info['src_package']}' was not found")
    if source is target:
        raise ApiError(400, "A package cannot be linked into its own repository")
    return target, package


async def link_package(request: web.Request) -> web.Response:
    """PUT /repository/:s/:r/links/:src_s/:src_r/:src_p → 201 success (idempotent)."""
    target, package = _link(request)
    if target.name not in package.linked_to_repos:
        package.linked_to_repos.append(target.name)
    return success(201)


async def unlink_package(request: web.Request) -> web.Response:
    """DELETE /repository/:s/:r/links/:src_s/:src_r/:src_p → success; 404 when not linked."""
    target, package = _link(request)
    if target.name not in package.linked_to_repos:
        raise ApiError(404, f"Package '{package.name}' is not linked into '{target.name}'")
    package.linked_to_repos.remove(target.name)
    return success()


_REPO = "/repos/{subject}/{repo}"
_LINK = "/repository/{subject}/{repo}/links/{src_subject}/{src_repo}/{src_package}"
_PKG = "/packages/{subject}/{repo}/{package}"
_TEAM = "/orgs/{org}/teams"

ROUTES: list[Route] = [
    ("POST", _REPO, create_repo),
    ("PATCH", _REPO, update_repo),
    ("DELETE", _REPO, delete_repo),
    ("POST", "/packages/{subject}/{repo}", create_package),
    ("PATCH", _PKG, update_package),
    ("DELETE", _PKG, delete_package),
    ("POST", _PKG + "/versions", create_version),
    ("PATCH", _PKG + "/versions/{version}", update_version),
    ("DELETE", _PKG + "/versions/{version}", delete_version),
    ("POST", _TEAM, create_team),
    ("PATCH", _TEAM + "/{team}", update_team),
    ("DELETE", _TEAM + "/{team}", delete_team),
    ("PUT", _LINK, link_package),
    ("DELETE", _LINK, unlink_package),
]
