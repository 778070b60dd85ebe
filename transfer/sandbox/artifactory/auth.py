"""Authentication (§1.2): Basic (password, token, API key), Bearer, X-JFrog-Art-Api, anonymous."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from .common import CHALLENGE, ApiError
from .security import ANONYMOUS, Principal
from .state import State
from .token_store import TokenRecord

__all__ = ["authenticate", "is_open"]

_OPEN = ("/artifactory/api/system/ping", "/access/api/v1/system/ping")


def _bad() -> ApiError:
    return ApiError(401, "Bad credentials", headers={"WWW-Authenticate": CHALLENGE})


def _token_principal(state: State, record: TokenRecord | None, user_name: str | None) -> Principal:
    if record is None or (user_name is not None and record.subject != user_name):
        raise _bad()
    if record.expires_at is not None and state.clock() >= record.expires_at:
        raise ApiError(401, "Token has expired", headers={"WWW-Authenticate": CHALLENGE})
    user = state.security.users.get(record.subject)
    if user is None and not record.transient:
        raise _bad()
    if record.admin_scope:
        groups = frozenset() if user is None else state.security.user_groups(user)
        return Principal(record.subject, True, groups, token_id=record.token_id)
    if record.groups is not None:
        return state.security.group_principal(
            record.subject, record.groups, token_id=record.token_id
        )
    assert user is not None
    return state.security.principal(user, token_id=record.token_id)


def is_open(request: web.Request) -> bool:
    """Requests served without credentials even when anonymous access is off."""
    if request.path in _OPEN:
        return True
    # signed URLs carry their own proof; the download handler validates it
    return (
        request.method in ("GET", "HEAD")
        and "sig" in request.query
        and not request.path.startswith("/artifactory/api/")
    )


def authenticate(request: web.Request, state: State) -> Principal:
    """Who the request acts as; raises a 401 ApiError for bad or missing credentials."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        try:
            name, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _bad() from None
        if not sep:
            raise _bad()
        user = state.security.check_password(name, secret)
        if user is not None:
            return state.security.principal(user)
        record = state.tokens.find(secret)
        if record is not None:
            return _token_principal(state, record, name)
        user = state.security.users.get(name)
        if (
            user is not None
            and user.api_key is not None
            and user.api_key == secret
            and not state.options.cloud
        ):
            return state.security.principal(user)
        raise _bad()
    if scheme.lower() == "bearer" and value:
        return _token_principal(state, state.tokens.find(value), None)
    if header:
        raise _bad()
    api_key = request.headers.get("X-JFrog-Art-Api")
    if api_key:
        # JFrog Cloud no longer accepts API keys (reference §13)
        user = None if state.options.cloud else state.security.user_by_api_key(api_key)
        if user is None:
            raise _bad()
        return state.security.principal(user)
    if state.options.anonymous_access or is_open(request):
        return ANONYMOUS
    raise _bad()
