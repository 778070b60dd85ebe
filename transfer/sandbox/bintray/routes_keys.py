"""Access keys, entitlements and entitlement search (reference 9)."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import find_package, find_repo, find_version, require_org
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    read_json,
    require_admin,
    rights,
    state,
    success,
)
from transfer.sandbox.orgdata import AccessKey, Entitlement, Organization

__all__ = ["ROUTES"]

_NOT_PREMIUM = "This resource is only available for subjects with entitlement management."


def _entitled_org(request: web.Request) -> Organization:
    org = state(request).org
    require_org(org, request.match_info["subject"])
    require_admin(request)
    if not org.premium:
        raise ApiError(403, _NOT_PREMIUM)
    return org


def _key(org: Organization, key_id: str) -> AccessKey:
    key = org.access_keys.get(key_id)
    if key is None:
        raise ApiError(404, f"Access key '{key_id}' was not found")
    return key


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"'{name}' must be an array of strings")
    return list(value)


def _dict_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Expected a JSON object")
    return body


async def list_keys(request: web.Request) -> web.Response:
    """GET /orgs/:org/access_keys → ``{"access_keys": [ids]}``."""
    org = _entitled_org(request)
    return json_response({"access_keys": list(org.access_keys)})


async def get_key(request: web.Request) -> web.Response:
    """GET /orgs/:org/access_keys/:id — never the password."""
    org = _entitled_org(request)
    return json_response(render.access_key(_key(org, request.match_info["key"]), org.name))


def _apply_key_fields(key: AccessKey, body: dict[str, Any]) -> None:
    if "expiry" in body:
        expiry = body["expiry"]
        if expiry is not None and not isinstance(expiry, int):
            raise ApiError(400, "'expiry' must be epoch milliseconds")
        key.expiry = expiry
    if "existence_check" in body:
        check = body["existence_check"]
        key.existence_check = dict(check) if isinstance(check, dict) else {}
    if "white_cidrs" in body:
        key.white_cidrs = _strings(body, "white_cidrs")
    if "black_cidrs" in body:
        key.black_cidrs = _strings(body, "black_cidrs")
    if "api_only" in body:
        key.api_only = bool(body["api_only"])


async def create_key(request: web.Request) -> web.Response:
    """POST /orgs/:org/access_keys → 201 ``{"username","password"}``."""
    org = _entitled_org(request)
    body = _dict_body(await read_json(request))
    key_id = body.get("id")
    if not isinstance(key_id, str) or not key_id:
        raise ApiError(400, "Access key 'id' is mandatory")
    if key_id in org.access_keys:
        raise ApiError(409, f"Access key '{key_id}' already exists")
    password = body.get("password") or secrets.token_hex(20)
    key = AccessKey(id=key_id, password=str(password))
    _apply_key_fields(key, body)
    org.access_keys[key_id] = key
    return json_response({"username": f"{key_id}@{org.name}", "password": key.password}, status=201)


async def update_key(request: web.Request) -> web.Response:
    """PATCH /orgs/:org/access_keys/:id — answers the whole key, password included."""
    org = _entitled_org(request)
    key = _key(org, request.match_info["key"])
    body = _dict_body(await read_json(request))
    if "password" in body:
        key.password = str(body["password"] or secrets.token_hex(20))
    _apply_key_fields(key, body)
    return json_response(render.access_key(key, org.name, with_password=True))


async def delete_key(request: web.Request) -> web.Response:
    """DELETE /orgs/:org/access_keys/:id."""
    org = _entitled_org(request)
    _key(org, request.match_info["key"])
    del org.access_keys[request.match_info["key"]]
    return success()


def _scope(request: web.Request, org: Organization) -> tuple[str, str | None, str | None]:
    """(repo, package, version) named by an entitlement collection path, each checked to exist."""
    who = rights(request)
    repo = find_repo(org, who, request.match_info["subject"], request.match_info["repo"])
    package_name = request.match_info.get("package")
    version_name = request.match_info.get("version")
    if package_name is None:
        return repo.name, None, None
    owning, package = find_package(org, repo, package_name)
    if version_name is None:
        return owning.name, package.name, None
    version = find_version(package, version_name, publisher=True)
    return owning.name, package.name, version.name


def _in_scope(ent: Entitlement, scope: tuple[str, str | None, str | None]) -> bool:
    return (ent.repo, ent.package, ent.version) == scope


def _entitlement(request: web.Request, org: Organization) -> Entitlement:
    scope = _scope(request, org)
    wanted = request.match_info["entitlement"]
    for ent in org.entitlements:
        if ent.id == wanted and _in_scope(ent, scope):
            return ent
    raise ApiError(404, f"Entitlement '{wanted}' was not found")


def _key_ids(org: Organization, body: dict[str, Any], name: str) -> list[str] | None:
    # the doc and jfrog-client-go still say download_keys; newer payloads say access_keys
    for spelling in (name, name.replace("access_keys", "download_keys")):
        if spelling in body:
            ids = _strings(body, spelling)
            for key_id in ids:
                if key_id not in org.access_keys:
                    raise ApiError(400, f"Access key '{key_id}' was not found")
            return ids
    return None


def _access(body: dict[str, Any], default: str | None) -> str:
    access = body.get("access", default)
    if access not in ("r", "rw"):
        raise ApiError(400, "'access' must be 'r' or 'rw'")
    return str(access)


async def list_entitlements(request: web.Request) -> web.Response:
    """GET <scope>/entitlements → array of entitlement objects (array form, UNCERTAIN)."""
    org = _entitled_org(request)
    scope = _scope(request, org)
    found = [render.entitlement(e, org.name) for e in org.entitlements if _in_scope(e, scope)]
    return json_response(found)


async def get_entitlement(request: web.Request) -> web.Response:
    """GET <scope>/entitlements/:id."""
    org = _entitled_org(request)
    return json_response(render.entitlement(_entitlement(request, org), org.name))


async def create_entitlement(request: web.Request) -> web.Response:
    """POST <scope>/entitlements → 201 entitlement (``access_keys`` or ``download_keys``)."""
    org = _entitled_org(request)
    repo, package, version = _scope(request, org)
    body = _dict_body(await read_json(request))
    ent_id = body.get("id") or secrets.token_hex(20)
    if any(e.id == ent_id for e in org.entitlements):
        raise ApiError(409, f"Entitlement '{ent_id}' already exists")
    path = body.get("path") if package is None else None
    ent = Entitlement(
        id=str(ent_id),
        access=_access(body, None),
        access_keys=_key_ids(org, body, "access_keys") or [],
        repo=repo,
        package=package,
        version=version,
        path=str(path) if path else None,
        tags=_strings(body, "tags"),
    )
    org.entitlements.append(ent)
    return json_response(render.entitlement(ent, org.name), status=201)


async def update_entitlement(request: web.Request) -> web.Response:
    """PATCH <scope>/entitlements/:id with replace and ``*_add``/``*_remove`` lists."""
    org = _entitled_org(request)
    ent = _entitlement(request, org)
    body = _dict_body(await read_json(request))
    if "access" in body:
        ent.access = _access(body, ent.access)
    keys = _key_ids(org, body, "access_keys")
    if keys is not None:
        ent.access_keys = keys
    added = _key_ids(org, body, "access_keys_add") or []
    removed = set(_key_ids(org, body, "access_keys_remove") or [])
    ent.access_keys = [k for k in ent.access_keys + added if k not in removed]
    ent.access_keys = list(dict.fromkeys(ent.access_keys))
    if "tags" in body:
        ent.tags = _strings(body, "tags")
    tags_removed = set(_strings(body, "tags_remove"))
    ent.tags = list(
        dict.fromkeys(t for t in ent.tags + _strings(body, "tags_add") if t not in tags_removed)
    )
    if "path" in body and ent.package is None:
        ent.path = str(body["path"]) if body["path"] else None
    return json_response(render.entitlement(ent, org.name))


async def delete_entitlement(request: web.Request) -> web.Response:
    """DELETE <scope>/entitlements/:id."""
    org = _entitled_org(request)
    ent = _entitlement(request, org)
    org.entitlements.remove(ent)
    return success()


async def search_entitlements(request: web.Request) -> web.Response:
    """GET /search/entitlements?access_key=|tag=&scope=s[/r[/p[/v]]][&deep=true]."""
    org = state(request).org
    require_admin(request)
    if not org.premium:
        raise ApiError(403, _NOT_PREMIUM)
    key = request.query.get("access_key")
    tag = request.query.get("tag")
    scope = [s for s in request.query.get("scope", "").split("/") if s]
    if (key is None and tag is None) or not scope:
        raise ApiError(400, "Search needs 'scope' and one of 'access_key' or 'tag'")
    if scope[0] != org.name:
        raise ApiError(404, f"Subject '{scope[0]}' was not found")
    deep = request.query.get("deep", "false").lower() in ("1", "true")
    wanted = tuple(scope[1:4])
    found = []
    for ent in org.entitlements:
        if key is not None and key not in ent.access_keys:
            continue
        if tag is not None and tag not in ent.tags:
            continue
        where = tuple(x for x in (ent.repo, ent.package, ent.version) if x is not None)
        exact = where == wanted
        below = len(where) > len(wanted) and where[: len(wanted)] == wanted
        if exact or (deep and below):
            detail = state(request).options.entitlement_search_scope
            found.append(render.entitlement(ent, org.name, search=True, scope_detail=detail))
    return json_response(found)


_KEYS = "/orgs/{subject}/access_keys"
_SCOPES = (
    "/repos/{subject}/{repo}",
    "/packages/{subject}/{repo}/{package}",
    "/packages/{subject}/{repo}/{package}/versions/{version}",
)

ROUTES: list[Route] = [
    ("GET", _KEYS, list_keys),
    ("POST", _KEYS, create_key),
    ("GET", _KEYS + "/{key}", get_key),
    ("PATCH", _KEYS + "/{key}", update_key),
    ("DELETE", _KEYS + "/{key}", delete_key),
    ("GET", "/search/entitlements", search_entitlements),
]
for _base in _SCOPES:
    ROUTES += [
        ("GET", _base + "/entitlements", list_entitlements),
        ("POST", _base + "/entitlements", create_entitlement),
        ("GET", _base + "/entitlements/{entitlement}", get_entitlement),
        ("PATCH", _base + "/entitlements/{entitlement}", update_entitlement),
        ("DELETE", _base + "/entitlements/{entitlement}", delete_entitlement),
    ]
