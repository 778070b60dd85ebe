"""Permission targets (§6.3, §6.4): v2 with hyphenated patterns and word actions, v1 letters."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .common import ApiError, json_response, text_response
from .security import REPO_ACTIONS, V1_LETTERS, PermissionTarget, RepoSection
from .security_api import json_body, name_param, str_list
from .state import base, require_admin, state_of

__all__ = ["routes"]

_ACTION_LETTERS = {action: letter for letter, action in V1_LETTERS.items()}
_SPECIAL_REPOS = ("ANY", "ANY LOCAL", "ANY REMOTE")


def _grants(actions: Any, valid: tuple[str, ...], field: str) -> dict[str, list[str]]:
    if actions is None:
        return {}
    if not isinstance(actions, dict):
        raise ApiError(400, f"Field '{field}' must be an object")
    out: dict[str, list[str]] = {}
    for principal, granted in actions.items():
        names = str_list(granted, field)
        unknown = [a for a in names if a not in valid]
        if unknown:
            raise ApiError(400, f"Unknown actions {unknown} for '{principal}'")
        out[principal] = names
    return out


def _patterns(value: Any, field: str, default: list[str]) -> list[str]:
    patterns = default if value is None else str_list(value, field)
    if any(len(p) > 1024 for p in patterns):
        raise ApiError(400, f"Patterns in '{field}' are limited to 1024 characters")
    return patterns


def _repo_section(request: web.Request, section: Any) -> RepoSection:
    if not isinstance(section, dict):
        raise ApiError(400, "Field 'repo' must be an object")
    repositories = str_list(section.get("repositories", []), "repositories")
    configs = state_of(request).repos.configs
    for key in repositories:
        if key not in _SPECIAL_REPOS and key not in configs:
            raise ApiError(400, f"Repository '{key}' does not exist")
    actions = section.get("actions") or {}
    if not isinstance(actions, dict):
        raise ApiError(400, "Field 'actions' must be an object")
    return RepoSection(
        repositories=repositories,
        include=_patterns(section.get("include-patterns"), "include-patterns", ["**"]),
        exclude=_patterns(section.get("exclude-patterns"), "exclude-patterns", [""]),
        users=_grants(actions.get("users"), REPO_ACTIONS, "users"),
        groups=_grants(actions.get("groups"), REPO_ACTIONS, "groups"),
    )


def _other_section(section: Any, field: str, repositories: list[str]) -> dict[str, Any] | None:
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ApiError(400, f"Field '{field}' must be an object")
    actions = section.get("actions") or {}
    return {
        "repositories": repositories,
        "actions": {
            "users": _grants(actions.get("users"), REPO_ACTIONS, "users"),
            "groups": _grants(actions.get("groups"), REPO_ACTIONS, "groups"),
        },
        "include-patterns": _patterns(section.get("include-patterns"), "include-patterns", ["**"]),
        "exclude-patterns": _patterns(section.get("exclude-patterns"), "exclude-patterns", [""]),
    }


def _target_from_v2(request: web.Request, name: str, body: dict[str, Any]) -> PermissionTarget:
    if len(name) > 64 or not name.strip():
        raise ApiError(400, "Permission target name must be 1 to 64 characters")
    if body.get("name", name) != name:
        raise ApiError(400, "Permission target name in the URL does not match the body")
    repo = body.get("repo")
    bundle = body.get("releaseBundle")
    return PermissionTarget(
        name=name,
        repo=None if repo is None else _repo_section(request, repo),
        build=_other_section(body.get("build"), "build", ["artifactory-build-info"]),
        release_bundle=_other_section(
            bundle,
            "releaseBundle",
            (bundle or {}).get("repositories") or ["release-bundles"],
        ),
    )


def _target_v2_json(target: PermissionTarget) -> dict[str, Any]:
    body: dict[str, Any] = {"name": target.name}
    if target.repo is not None:
        body["repo"] = {
            "include-patterns": target.repo.include,
            "exclude-patterns": target.repo.exclude,
            "repositories": target.repo.repositories,
            "actions": {"users": target.repo.users, "groups": target.repo.groups},
        }
    if target.build is not None:
        body["build"] = target.build
    if target.release_bundle is not None:
        body["releaseBundle"] = target.release_bundle
    return body


async def create_target(request: web.Request) -> web.Response:
    """POST /api/v2/security/permissions/{name}: 201; 409 when it exists."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    if name in state.security.targets:
        raise ApiError(409, f"Permission target '{name}' already exists")
    state.security.targets[name] = _target_from_v2(request, name, await json_body(request))
    return web.Response(status=201)


async def replace_target(request: web.Request) -> web.Response:
    """PUT /api/v2/security/permissions/{name}: full replace (200) or create (201)."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    existing = name in state.security.targets
    state.security.targets[name] = _target_from_v2(request, name, await json_body(request))
    return web.Response(status=200 if existing else 201)


async def get_target(request: web.Request) -> web.Response:
    """GET /api/v2/security/permissions/{name}: 200, 404 missing."""
    require_admin(request)
    target = state_of(request).security.targets.get(name_param(request))
    if target is None:
        raise ApiError(404, f"Permission target '{name_param(request)}' does not exist")
    return json_response(_target_v2_json(target))


async def list_targets(request: web.Request) -> web.Response:
    """GET /api/v2/security/permissions (and v1): [{name, uri}]."""
    require_admin(request)
    root = base(request)
    v1 = "/v2/" not in request.path
    path = "api/security/permissions" if v1 else "api/v2/security/permissions"
    return json_response(
        [{"name": n, "uri": f"{root}/{path}/{n}"} for n in state_of(request).security.targets]
    )


async def delete_target(request: web.Request) -> web.Response:
    """DELETE /api/v2/security/permissions/{name} (and v1): 200 text."""
    require_admin(request)
    name = name_param(request)
    if state_of(request).security.targets.pop(name, None) is None:
        raise ApiError(404, f"Permission target '{name}' does not exist")
    return text_response(f"Permission Target '{name}' has been removed successfully.")


def _v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    principals = body.get("principals") or {}

    def letters(grants: Any) -> dict[str, list[str]]:
        if not isinstance(grants, dict):
            raise ApiError(400, "principals must map names to action letters")
        out: dict[str, list[str]] = {}
        for who, codes in grants.items():
            unknown = [c for c in str_list(codes, "principals") if c not in V1_LETTERS]
            if unknown:
                raise ApiError(400, f"Unknown permission letters {unknown}")
            out[who] = [V1_LETTERS[c] for c in codes]
        return out

    def split(value: Any, default: str) -> list[str]:
        return [p.strip() for p in str(value if value is not None else default).split(",")]

    return {
        "repo": {
            "repositories": body.get("repositories", []),
            "include-patterns": split(body.get("includesPattern"), "**"),
            "exclude-patterns": split(body.get("excludesPattern"), ""),
            "actions": {
                "users": letters(principals.get("users") or {}),
                "groups": letters(principals.get("groups") or {}),
            },
        }
    }


async def put_target_v1(request: web.Request) -> web.Response:
    """PUT /api/security/permissions/{name}: create (201) or replace (200), v1 letters."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    body = await json_body(request)
    existing = name in state.security.targets
    state.security.targets[name] = _target_from_v2(request, name, _v1_to_v2(body))
    return web.Response(status=200 if existing else 201)


async def get_target_v1(request: web.Request) -> web.Response:
    """GET /api/security/permissions/{name}: the v1 shape (letters, comma-separated patterns)."""
    require_admin(request)
    name = name_param(request)
    target = state_of(request).security.targets.get(name)
    if target is None or target.repo is None:
        raise ApiError(404, f"Permission target '{name}' does not exist")
    section = target.repo

    def letters(grants: dict[str, list[str]]) -> dict[str, list[str]]:
        return {w: [_ACTION_LETTERS[a] for a in acts] for w, acts in grants.items()}

    return json_response(
        {
            "name": name,
            "includesPattern": ",".join(section.include),
            "excludesPattern": ",".join(section.exclude),
            "repositories": section.repositories,
            "principals": {"users": letters(section.users), "groups": letters(section.groups)},
        }
    )


def routes(prefix: str) -> list[web.RouteDef]:
    """Permission-target routes (v2 and v1)."""
    v2 = f"{prefix}/api/v2/security/permissions"
    v1 = f"{prefix}/api/security/permissions"
    return [
        web.get(v2, list_targets),
        web.post(f"{v2}/{{name}}", create_target),
        web.put(f"{v2}/{{name}}", replace_target),
        web.get(f"{v2}/{{name}}", get_target),
        web.delete(f"{v2}/{{name}}", delete_target),
        web.get(v1, list_targets),
        web.put(f"{v1}/{{name}}", put_target_v1),
        web.get(f"{v1}/{{name}}", get_target_v1),
        web.delete(f"{v1}/{{name}}", delete_target),
    ]
