"""Security REST API (§6): users and groups (v1) and API keys; shared body helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .common import ApiError, json_object, json_response, text_response
from .options import CLOUD_USER_NAME
from .security import Group, User, new_api_key
from .state import base, require_admin, require_user, state_of

__all__ = ["json_body", "name_param", "routes", "str_list"]


def name_param(request: web.Request) -> str:
    """Path name with a literal ``+`` meaning a space, as the server does by default; an
    encoded ``%2B`` stays a plus (guessed: how a Cloud user name with ``+`` is addressed)."""
    raw = request.rel_url.raw_path.rstrip("/").rsplit("/", 1)[-1]
    return unquote(raw.replace("+", " "))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, ``null`` members dropped (400 when malformed or not an object)."""
    return await json_object(request)


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"Field '{key}' must be a boolean")
    return value


def _str(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ApiError(400, f"Field '{key}' must be a string")
    return value


def str_list(value: Any, field: str) -> list[str]:
    """A list of strings from a body field (400 otherwise)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"Field '{field}' must be a list of strings")
    return list(value)


# ---- users -------------------------------------------------------------------------------------


def _cloud_create_rules(name: str, body: dict[str, Any]) -> None:
    """JFrog Cloud's rules for a new v1 user (reference §13): a lower-case name of
    ``[a-z0-9._@+-]`` and a password, even when the internal password will be disabled."""
    if not CLOUD_USER_NAME.match(name):
        raise ApiError(
            400,
            f"Username '{name}' is invalid: use lower-case letters, digits and . _ - @ + only",
        )
    if not body.get("password"):
        raise ApiError(400, "Password is mandatory")


def _user_from(
    body: dict[str, Any], name: str, base_user: User | None, default_groups: list[str]
) -> User:
    if body.get("name", name) != name:
        raise ApiError(400, "User name in the URL does not match the body")
    start = base_user or User(name, "", None, groups=default_groups)
    user = User(
        name=name,
        email=_str(body, "email", start.email),
        password=start.password,
        admin=_bool(body, "admin", start.admin),
        profile_updatable=_bool(body, "profileUpdatable", start.profile_updatable),
        disable_ui_access=_bool(body, "disableUIAccess", start.disable_ui_access),
        internal_password_disabled=_bool(
            body, "internalPasswordDisabled", start.internal_password_disabled
        ),
        groups=str_list(body.get("groups", start.groups), "groups"),
        watch_manager=_bool(body, "watchManager", start.watch_manager),
        policy_manager=_bool(body, "policyManager", start.policy_manager),
        reports_manager=_bool(body, "reportsManager", start.reports_manager),
        realm=start.realm,
        api_key=start.api_key,
    )
    if "password" in body:
        user.password = _str(body, "password", "")
    if not user.email:
        raise ApiError(400, "Email is mandatory")
    if not user.password and not user.internal_password_disabled:
        raise ApiError(400, "Password is mandatory unless internalPasswordDisabled is true")
    return user


async def put_user(request: web.Request) -> web.Response:
    """PUT /api/security/users/{name}: create (201) or replace (200)."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    body = await json_body(request)
    existing = state.security.users.get(name)
    if existing is None and state.options.cloud:
        _cloud_create_rules(name, body)
    auto = [g.name for g in state.security.groups.values() if g.auto_join]
    # a replace keeps the stored password when none is sent
    keep = User(name, "", existing.password, api_key=existing.api_key) if existing else None
    user = _user_from(body, name, keep, auto)
    state.security.users[name] = user
    return web.Response(status=200 if existing else 201)


async def post_user(request: web.Request) -> web.Response:
    """POST /api/security/users/{name}: partial update, 200."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    existing = state.security.users.get(name)
    if existing is None:
        raise ApiError(404, f"User '{name}' does not exist")
    state.security.users[name] = _user_from(await json_body(request), name, existing, [])
    return web.Response(status=200)


async def get_user(request: web.Request) -> web.Response:
    """GET /api/security/users/{name}: 200 (never the password), 404 missing."""
    principal = require_user(request)
    state = state_of(request)
    name = name_param(request)
    if not principal.admin and name != principal.name:
        require_admin(request)
    user = state.security.users.get(name)
    if user is None:
        raise ApiError(404, f"User '{name}' does not exist")
    return json_response(user.to_json())


async def list_users(request: web.Request) -> web.Response:
    """GET /api/security/users: [{name, uri, realm}]."""
    require_admin(request)
    root = base(request)
    return json_response(
        [
            {"name": u.name, "uri": f"{root}/api/security/users/{u.name}", "realm": u.realm}
            for u in state_of(request).security.users.values()
        ]
    )


async def delete_user(request: web.Request) -> web.Response:
    """DELETE /api/security/users/{name}: 200 text, 404 missing."""
    principal = require_admin(request)
    name = name_param(request)
    if name == principal.name:
        raise ApiError(400, "Users cannot delete themselves")
    if state_of(request).security.users.pop(name, None) is None:
        raise ApiError(404, f"User '{name}' does not exist")
    return text_response(f"User '{name}' has been removed successfully.")


# ---- groups ------------------------------------------------------------------------------------


def _group_from(body: dict[str, Any], name: str, start: Group) -> Group:
    if body.get("name", name) != name:
        raise ApiError(400, "Group name in the URL does not match the body")
    group = Group(
        name=name,
        description=_str(body, "description", start.description),
        auto_join=_bool(body, "autoJoin", start.auto_join),
        admin_privileges=_bool(body, "adminPrivileges", start.admin_privileges),
        realm=_str(body, "realm", start.realm),
        realm_attributes=_str(body, "realmAttributes", start.realm_attributes),
        external_id=_str(body, "externalId", start.external_id),
        watch_manager=_bool(body, "watchManager", start.watch_manager),
        policy_manager=_bool(body, "policyManager", start.policy_manager),
        reports_manager=_bool(body, "reportsManager", start.reports_manager),
    )
    if group.auto_join and group.admin_privileges:
        raise ApiError(400, "autoJoin cannot be true for a group with admin privileges")
    return group


def _set_members(request: web.Request, group: str, body: dict[str, Any]) -> None:
    if "userNames" not in body:
        return
    wanted = set(str_list(body["userNames"], "userNames"))
    for user in state_of(request).security.users.values():
        if user.name in wanted and group not in user.groups:
            user.groups.append(group)
        elif user.name not in wanted and group in user.groups:
            user.groups.remove(group)


async def put_group(request: web.Request) -> web.Response:
    """PUT /api/security/groups/{name}: create (201) or replace (200)."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    body = await json_body(request)
    existing = name in state.security.groups
    state.security.groups[name] = _group_from(body, name, Group(name))
    _set_members(request, name, body)
    return web.Response(status=200 if existing else 201)


async def post_group(request: web.Request) -> web.Response:
    """POST /api/security/groups/{name}: partial update (userNames honoured), 200."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    existing = state.security.groups.get(name)
    if existing is None:
        raise ApiError(404, f"Group '{name}' does not exist")
    body = await json_body(request)
    state.security.groups[name] = _group_from(body, name, existing)
    _set_members(request, name, body)
    return web.Response(status=200)


async def get_group(request: web.Request) -> web.Response:
    """GET /api/security/groups/{name}[?includeUsers=true]: 200, 404 missing."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    group = state.security.groups.get(name)
    if group is None:
        raise ApiError(404, f"Group '{name}' does not exist")
    body = group.to_json()
    if request.query.get("includeUsers", "").lower() == "true":
        body["userNames"] = state.security.members(name)
    return json_response(body)


async def list_groups(request: web.Request) -> web.Response:
    """GET /api/security/groups: [{name, uri}]."""
    require_admin(request)
    root = base(request)
    return json_response(
        [
            {"name": g.name, "uri": f"{root}/api/security/groups/{g.name}"}
            for g in state_of(request).security.groups.values()
        ]
    )


async def delete_group(request: web.Request) -> web.Response:
    """DELETE /api/security/groups/{name}: 200 text; members lose the group."""
    require_admin(request)
    state = state_of(request)
    name = name_param(request)
    if state.security.groups.pop(name, None) is None:
        raise ApiError(404, f"Group '{name}' does not exist")
    for user in state.security.users.values():
        if name in user.groups:
            user.groups.remove(name)
    return text_response(f"Group '{name}' has been removed successfully.")


# ---- API keys ----------------------------------------------------------------------------------


async def create_api_key(request: web.Request) -> web.Response:
    """POST /api/security/apiKey: 201 {"apiKey"} for the caller (400 when one exists; 400 on
    JFrog Cloud, where API keys are no longer issued)."""
    principal = require_user(request)
    if state_of(request).options.cloud:
        raise ApiError(400, "API keys are deprecated and can no longer be created: use tokens")
    user = state_of(request).security.users.get(principal.name)
    if user is None:
        raise ApiError(400, "Transient users cannot own API keys")
    if user.api_key is not None:
        raise ApiError(400, "An API key already exists for this user")
    user.api_key = new_api_key()
    return json_response({"apiKey": user.api_key}, status=201)


async def get_api_key(request: web.Request) -> web.Response:
    """GET /api/security/apiKey: {"apiKey": ...} or {} when the caller has none."""
    principal = require_user(request)
    user = state_of(request).security.users.get(principal.name)
    key = None if user is None else user.api_key
    return json_response({} if key is None else {"apiKey": key})


def routes(prefix: str) -> list[web.RouteDef]:
    """Security routes."""
    users = f"{prefix}/api/security/users"
    groups = f"{prefix}/api/security/groups"
    return [
        web.get(users, list_users),
        web.put(f"{users}/{{name}}", put_user),
        web.post(f"{users}/{{name}}", post_user),
        web.get(f"{users}/{{name}}", get_user),
        web.delete(f"{users}/{{name}}", delete_user),
        web.get(groups, list_groups),
        web.put(f"{groups}/{{name}}", put_group),
        web.post(f"{groups}/{{name}}", post_group),
        web.get(f"{groups}/{{name}}", get_group),
        web.delete(f"{groups}/{{name}}", delete_group),
        web.post(f"{prefix}/api/security/apiKey", create_api_key),
        web.get(f"{prefix}/api/security/apiKey", get_api_key),
    ]
