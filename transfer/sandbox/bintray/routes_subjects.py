"""Users, the organisation, its teams and per-repository team permissions (reference 2)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import find_repo, require_org
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
from transfer.sandbox.orgdata import Organization, Team

__all__ = ["ROUTES", "find_team", "premium_admin", "user_body"]

_PERMISSIONS = ("read", "publish", "admin")


def _quota(org: Organization) -> int:
    return sum(f.size for f in org.iter_files())


def user_body(request: web.Request, name: str) -> dict[str, Any]:
    """Get User's body (quota only for the user themself); 404 for an unknown user."""
    who = rights(request)
    org = state(request).org
    user = org.users.get(name)
    if user is None:
        raise ApiError(404, f"User '{name}' was not found")
    body: dict[str, Any] = {
        "name": user.name,
        "full_name": user.full_name,
        "gravatar_id": user.gravatar_id,
        "repos": [],
        "organizations": [org.name] if org.member_type(name) is not None else [],
        "followers_count": 0,
        "registered": user.registered,
    }
    if who.caller.kind == "user" and who.caller.name == name:
        body["quota_used_bytes"] = 0
    return body


async def get_user(request: web.Request) -> web.Response:
    """GET /users/:user — needs an authenticated caller; quota only for the user themself."""
    require_user(request)
    return json_response(user_body(request, request.match_info["user"]))


async def get_org(request: web.Request) -> web.Response:
    """GET /orgs/:org — members' ``type``, ``teams`` and quota only for admins."""
    who = require_user(request)
    org = state(request).org
    name = request.match_info["org"]
    if name != org.name:
        raise ApiError(404, f"Organization '{name}' was not found")
    admin = who.is_admin
    members: list[dict[str, str]] = [
        {"name": m.name, "type": m.type} if admin else {"name": m.name} for m in org.members
    ]
    body: dict[str, Any] = {
        "name": org.name,
        "full_name": org.full_name,
        "owner": org.owner,
        "repos": [r.name for r in org.repos.values() if who.can_read(r)],
        "followers_count": 0,
        "registered": org.registered,
        "members": members,
    }
    if admin and org.premium:
        body["teams"] = list(org.teams)
    if admin:
        body["quota_used_bytes"] = _quota(org)
    return json_response(body)


def premium_admin(request: web.Request) -> Organization:
    """The organisation, if the caller is its admin and it is on a premium plan."""
    require_admin(request)
    org = state(request).org
    if not org.premium:
        raise ApiError(400, f"This action is not allowed for none-premium subject {org.name}")
    return org


def find_team(org: Organization, name: str) -> Team:
    """The team by name; 404 in Bintray's words otherwise."""
    team = org.teams.get(name)
    if team is None:
        raise ApiError(404, f"Team '{name}' was not found")
    return team


async def list_teams(request: web.Request) -> web.Response:
    """GET /orgs/:org/teams → ``{"teams": [...]}`` (premium, admin)."""
    org = state(request).org
    require_org(org, request.match_info["org"])
    org = premium_admin(request)
    return json_response({"teams": list(org.teams)})


async def get_team(request: web.Request) -> web.Response:
    """GET /orgs/:org/teams/:team."""
    org = state(request).org
    require_org(org, request.match_info["org"])
    org = premium_admin(request)
    return json_response(render.team(find_team(org, request.match_info["team"])))


async def list_permissions(request: web.Request) -> web.Response:
    """GET /repos/:s/:r/permissions → ``[{"team","permission"}]`` (array form, UNCERTAIN)."""
    org = premium_admin(request)
    repo = find_repo(
        org, rights(request), request.match_info["subject"], request.match_info["repo"]
    )
    body = [
        {"team": t.name, "permission": t.permitted_repos[repo.name]}
        for t in org.teams.values()
        if repo.name in t.permitted_repos
    ]
    return json_response(body)


async def get_permission(request: web.Request) -> web.Response:
    """GET /repos/:s/:r/permissions/:team."""
    org = premium_admin(request)
    repo = find_repo(
        org, rights(request), request.match_info["subject"], request.match_info["repo"]
    )
    team = find_team(org, request.match_info["team"])
    permission = team.permitted_repos.get(repo.name)
    if permission is None:
        raise ApiError(404, "Not Found")
    return json_response({"team": team.name, "permission": permission})


async def set_permission(request: web.Request) -> web.Response:
    """PUT /repos/:s/:r/permissions ``{"team","permission"}``."""
    org = premium_admin(request)
    repo = find_repo(
        org, rights(request), request.match_info["subject"], request.match_info["repo"]
    )
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("permission") not in _PERMISSIONS:
        raise ApiError(400, "Permission must be one of read, publish, admin")
    team = find_team(org, str(body.get("team", "")))
    team.permitted_repos[repo.name] = body["permission"]
    return success()


async def delete_permission(request: web.Request) -> web.Response:
    """DELETE /repos/:s/:r/permissions/:team."""
    org = premium_admin(request)
    repo = find_repo(
        org, rights(request), request.match_info["subject"], request.match_info["repo"]
    )
    team = find_team(org, request.match_info["team"])
    if team.permitted_repos.pop(repo.name, None) is None:
        raise ApiError(404, "Not Found")
    return success()


ROUTES: list[Route] = [
    ("GET", "/users/{user}", get_user),
    ("GET", "/orgs/{org}", get_org),
    ("GET", "/orgs/{org}/teams", list_teams),
    ("GET", "/orgs/{org}/teams/{team}", get_team),
    ("GET", "/repos/{subject}/{repo}/permissions", list_permissions),
    ("PUT", "/repos/{subject}/{repo}/permissions", set_permission),
    ("GET", "/repos/{subject}/{repo}/permissions/{team}", get_permission),
    ("DELETE", "/repos/{subject}/{repo}/permissions/{team}", delete_permission),
]
