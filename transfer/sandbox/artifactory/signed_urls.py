"""Signed URLs (§8): HS256 JWTs over the repository path; rotating the key voids older URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from .common import ApiError, json_object, json_response
from .state import base, deny, require_admin, require_user, state_of
from .tree import normalize_path

__all__ = ["MAX_VALIDITY", "check_signature", "routes"]

DEFAULT_VALIDITY = 86_400
MAX_VALIDITY = 31_536_000


def _seconds(body: dict[str, Any], now: float) -> float:
    if "valid_for_secs" in body:
        value = body["valid_for_secs"]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ApiError(400, "valid_for_secs must be a positive integer")
        seconds = float(value)
    elif "expiry" in body:
        value = body["expiry"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError(400, "expiry must be epoch milliseconds")
        seconds = value / 1000 - now
        if seconds <= 0:
            raise ApiError(400, "expiry is in the past")
    else:
        seconds = DEFAULT_VALIDITY
    if seconds > MAX_VALIDITY:
        raise ApiError(400, "Signed URL validity cannot exceed one year")
    return seconds


async def create(request: web.Request) -> web.Response:
    """POST /api/signed/url {repo_path, valid_for_secs | expiry}: 200, the URL as a JSON string."""
    principal = require_user(request)
    state = state_of(request)
    body = await json_object(request)
    if not isinstance(body.get("repo_path"), str):
        raise ApiError(400, "repo_path is mandatory")
    repo, _, raw_path = body["repo_path"].strip("/").partition("/")
    try:
        path = normalize_path(raw_path)
    except ValueError:
        raise ApiError(400, "Illegal repo_path") from None
    now = state.clock()
    seconds = _seconds(body, now)
    rclass = state.repos.rclass(repo)
    tree = state.repos.trees.get(repo)
    if rclass is None or tree is None:
        raise ApiError(404, f"Repository '{repo}' not found")
    if not state.security.allowed(principal, "manage", repo, rclass, path):
        raise deny(request, "Creating signed URLs requires admin or manage permission")
    item = tree.get(path)
    if item is None or item.folder:
        raise ApiError(404, "Unable to find item")
    sig = state.signer.sign(repo, path, issuer=principal.name, now=now, expires_at=now + seconds)
    url = f"{base(request)}/{quote(repo)}/{quote(path)}?sig={sig}"
    return json_response(url)


async def rotate_key(request: web.Request) -> web.Response:
    """POST /api/signed/url/key (admin): 201; older signed URLs stop working."""
    require_admin(request)
    state_of(request).signer.rotate()
    return web.Response(status=201)


def check_signature(request: web.Request, repo: str, path: str) -> bool:
    """Whether the request's ``sig`` grants GET of ``repo/path``."""
    state = state_of(request)
    return state.signer.verify(request.query.get("sig", ""), repo, path, now=state.clock())


def routes(prefix: str) -> list[web.RouteDef]:
    """Signed-URL routes."""
    return [
        web.post(f"{prefix}/api/signed/url", create),
        web.post(f"{prefix}/api/signed/url/key", rotate_key),
    ]
