"""Access tokens (§7): the legacy ``/api/security/token`` API and the Access ``/v1/tokens`` API.

Tokens are JWT-shaped strings kept in memory; the store, not the signature, decides validity.
``groups`` on a record means "acts with these groups only"; None means the user's own rights.

Access does not persist a token that expires sooner than its *persistency threshold* (10 800 s
by default, ``ArtifactoryOptions.token_persistency_threshold``): such a token works until it
expires, but it cannot be read, listed or revoked (terraform-provider-artifactory documents
this for scoped tokens). Guess: revoking one by value answers 404 like an unknown token.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .common import ApiError, json_object, json_response, text_response
from .security import Principal
from .state import principal_of, require_admin, require_user, state_of
from .token_store import SERVICE_ID, TokenRecord

__all__ = ["ACCESS_DEFAULT_EXPIRY", "LEGACY_DEFAULT_EXPIRY", "routes"]

LEGACY_DEFAULT_EXPIRY = 3600
ACCESS_DEFAULT_EXPIRY = 31_536_000


def _check_generation_allowed(request: web.Request, principal: Principal) -> None:
    """JFrog Cloud refuses to mint a token for a user+password login unless "Enable Token
    Generation via API" is on (reference §13); a token-authenticated caller may always."""
    options = state_of(request).options
    if options.cloud and not options.token_generation_via_api and principal.token_id is None:
        raise ApiError(
            403,
            "Token generation via API with basic authentication is disabled: "
            "authenticate with an access token",
        )


def _oauth(status: int, code: str, description: str) -> ApiError:
    return ApiError(status, description, body={"error": code, "error_description": description})


def _int(value: Any, default: int, err: ApiError) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise err from None
    if number < 0:
        raise err
    return number


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _token_json(record: TokenRecord, expires_in: int, *, with_id: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {"access_token": record.access_token}
    if with_id:
        answer = {"token_id": record.token_id, **answer}
    if record.expires_at is not None:
        answer["expires_in"] = expires_in
    answer["scope"] = record.scope
    answer["token_type"] = "Bearer"
    if record.refresh_token is not None:
        answer["refresh_token"] = record.refresh_token
    return answer


def _refresh(request: web.Request, fields: dict[str, Any], *, legacy: bool) -> web.Response:
    state = state_of(request)
    old = state.tokens.by_refresh(str(fields.get("refresh_token", "")))
    if old is None or (legacy and fields.get("access_token") not in (None, old.access_token)):
        raise _oauth(401, "invalid_grant", "Refresh token is invalid or does not match")
    default = LEGACY_DEFAULT_EXPIRY if legacy else ACCESS_DEFAULT_EXPIRY
    bad = _oauth(400, "invalid_request", "expires_in must be a non-negative integer")
    expires_in = _int(fields.get("expires_in"), default, bad)
    state.tokens.forget(old.access_token)
    record = state.tokens.issue(
        old.subject,
        old.scope,
        groups=old.groups,
        admin_scope=old.admin_scope,
        expires_in=expires_in,
        refreshable=True,
        now=state.clock(),
        transient=old.transient,
    )
    return json_response(_token_json(record, expires_in, with_id=not legacy))


async def legacy_create(request: web.Request) -> web.Response:
    """POST /api/security/token (form): 200 token JSON, OAuth-style errors."""
    principal = require_user(request)
    state = state_of(request)
    form = dict(await request.post())
    grant = str(form.get("grant_type") or "client_credentials")
    if grant == "refresh_token":
        return _refresh(request, form, legacy=True)
    if grant != "client_credentials":
        raise _oauth(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    _check_generation_allowed(request, principal)
    username = str(form.get("username") or "")
    if not username:
        raise _oauth(400, "invalid_request", "The username parameter is mandatory")
    if not principal.admin and username != principal.name:
        raise _oauth(
            400, "unauthorized_client", "Non-admin users may only create tokens for themselves"
        )
    groups: frozenset[str] | None = None
    admin_scope = False
    for part in str(form.get("scope") or "").split():
        if part == "api:*":
            continue
        if part.startswith("member-of-groups:"):
            names = part.removeprefix("member-of-groups:").strip('"')
            groups = None if names == "*" else frozenset(g.strip() for g in names.split(",") if g)
        elif part.endswith(":admin") and principal.admin:
            admin_scope = True
        else:
            raise _oauth(400, "invalid_scope", f"Invalid scope: {part}")
    user = state.security.users.get(username)
    if user is None and (groups is None or not principal.admin):
        raise _oauth(400, "invalid_request", "Transient users require a member-of-groups scope")
    if groups is not None and not principal.admin and not groups <= principal.groups:
        raise _oauth(400, "invalid_scope", "Users may only request groups they belong to")
    bad = _oauth(400, "invalid_request", "expires_in must be a non-negative integer")
    expires_in = _int(form.get("expires_in"), LEGACY_DEFAULT_EXPIRY, bad)
    if expires_in == 0 and not principal.admin:
        raise _oauth(400, "invalid_request", "Only admins may create non-expiring tokens")
    scope = "api:*"
    if groups is not None:
        scope += " member-of-groups:" + ",".join(sorted(groups))
    if admin_scope:
        scope += f" {SERVICE_ID}:admin"
    record = state.tokens.issue(
        username,
        scope,
        groups=groups,
        admin_scope=admin_scope,
        expires_in=expires_in,
        refreshable=_bool(form.get("refreshable")),
        now=state.clock(),
        transient=user is None,
    )
    return json_response(_token_json(record, expires_in, with_id=False))


async def legacy_revoke(request: web.Request) -> web.Response:
    """POST /api/security/token/revoke (form token= or token_id=): 200 text."""
    principal = require_user(request)
    state = state_of(request)
    form = await request.post()
    token, token_id = form.get("token"), form.get("token_id")
    if (token is None) == (token_id is None):
        raise _oauth(400, "invalid_request", "Exactly one of token or token_id is required")
    record = state.tokens.find(str(token)) if token else state.tokens.by_id(str(token_id))
    if record is None or not record.persisted:
        return text_response("Token not found")
    if not principal.admin and record.subject != principal.name:
        raise _oauth(400, "unauthorized_client", "Only admins may revoke tokens of other users")
    state.tokens.revoke(token=record.access_token)
    return text_response("Token revoked")


async def legacy_list(request: web.Request) -> web.Response:
    """GET /api/security/token (admin): the token list."""
    require_admin(request)
    state = state_of(request)
    tokens = [
        {
            "token_id": r.token_id,
            "issuer": SERVICE_ID,
            "subject": f"{SERVICE_ID}/users/{r.subject}",
            "expiry": int(r.expires_at) if r.expires_at else 0,
            "refreshable": r.refresh_token is not None,
            "issued_at": int(r.issued_at),
        }
        for r in state.tokens.all()
    ]
    return json_response({"tokens": tokens})


async def _fields(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await json_object(request, "Token request")
    return dict(await request.post())


async def access_create(request: web.Request) -> web.Response:
    """POST /access/api/v1/tokens (JSON or form): 200 {token_id, access_token, ...}."""
    principal = require_user(request)
    state = state_of(request)
    fields = await _fields(request)
    if str(fields.get("grant_type") or "client_credentials") == "refresh_token":
        return _refresh(request, fields, legacy=False)
    _check_generation_allowed(request, principal)
    username = str(fields.get("username") or principal.name)
    if not principal.admin and username != principal.name:
        raise ApiError(403, "Non-admin users may only create tokens for themselves")
    scope = str(fields.get("scope") or "applied-permissions/user").strip()
    groups: frozenset[str] | None = None
    admin_scope = False
    if scope == "applied-permissions/admin":
        if not principal.admin:
            raise ApiError(403, "Only admins may create admin-scoped tokens")
        admin_scope = True
    elif scope.startswith("applied-permissions/groups:"):
        names = scope.removeprefix("applied-permissions/groups:")
        groups = frozenset(g.strip().strip('"') for g in names.split(",") if g.strip())
        if not principal.admin and not groups <= principal.groups:
            raise ApiError(403, "Users may only request groups they belong to")
    elif scope != "applied-permissions/user":
        raise ApiError(400, f"Unsupported scope: {scope}")
    user = state.security.users.get(username)
    if user is None and groups is None:
        raise ApiError(400, f"User '{username}' does not exist")
    expires_in = _int(
        fields.get("expires_in"),
        ACCESS_DEFAULT_EXPIRY,
        ApiError(400, "expires_in must be a non-negative integer"),
    )
    if expires_in == 0 and not principal.admin:
        raise ApiError(403, "Only admins may create non-expiring tokens")
    record = state.tokens.issue(
        username,
        scope,
        groups=groups,
        admin_scope=admin_scope,
        expires_in=expires_in,
        refreshable=_bool(fields.get("refreshable")),
        now=state.clock(),
        transient=user is None,
        description=str(fields.get("description") or ""),
    )
    return json_response(_token_json(record, expires_in, with_id=True))


def _revoke_checked(request: web.Request, record: TokenRecord | None) -> web.Response:
    principal = principal_of(request)
    if record is None or not record.persisted:
        raise ApiError(404, "Token not found")
    if not principal.admin and record.subject != principal.name:
        raise ApiError(403, "Only admins may revoke tokens of other users")
    state_of(request).tokens.revoke(token=record.access_token)
    return text_response("Token revoked")


async def access_revoke(request: web.Request) -> web.Response:
    """DELETE /access/api/v1/tokens/revoke (form/JSON ``token``): 200 text, 404 unknown."""
    require_user(request)
    fields = await _fields(request)
    return _revoke_checked(request, state_of(request).tokens.find(str(fields.get("token", ""))))


async def access_revoke_by_id(request: web.Request) -> web.Response:
    """DELETE /access/api/v1/tokens/{token_id}: 200 text, 404 unknown."""
    require_user(request)
    return _revoke_checked(request, state_of(request).tokens.by_id(request.match_info["token_id"]))


async def access_get(request: web.Request) -> web.Response:
    """GET /access/api/v1/tokens/{token_id}: the token's info; 404 unknown or not persisted
    (admins see every token, users their own)."""
    principal = require_user(request)
    record = state_of(request).tokens.by_id(request.match_info["token_id"])
    if record is None or (not principal.admin and record.subject != principal.name):
        raise ApiError(404, "Token not found")
    return json_response(record.to_json())


async def access_list(request: web.Request) -> web.Response:
    """GET /access/api/v1/tokens: {"tokens": [...]} (admins every persisted token, users
    their own)."""
    principal = require_user(request)
    records = state_of(request).tokens.all()
    mine = [r for r in records if principal.admin or r.subject == principal.name]
    return json_response({"tokens": [r.to_json() for r in mine]})


def routes(prefix: str) -> list[web.RouteDef]:
    """Token routes: legacy under the Artifactory prefix, current under /access."""
    return [
        web.post(f"{prefix}/api/security/token", legacy_create),
        web.get(f"{prefix}/api/security/token", legacy_list),
        web.post(f"{prefix}/api/security/token/revoke", legacy_revoke),
        web.post("/access/api/v1/tokens", access_create),
        web.delete("/access/api/v1/tokens/revoke", access_revoke),
        web.get("/access/api/v1/tokens", access_list),
        web.get("/access/api/v1/tokens/{token_id}", access_get),
        web.delete("/access/api/v1/tokens/{token_id}", access_revoke_by_id),
    ]
