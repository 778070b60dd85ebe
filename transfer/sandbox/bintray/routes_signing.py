"""URL signing, the signing keypair and products (reference 8, 10)."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import find_repo, require_org
from transfer.sandbox.bintray.signing import sign_url
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    read_json,
    require_admin,
    require_user,
    state,
)

__all__ = ["ROUTES"]

_DAY_MS = 24 * 3600 * 1000


async def signed_url(request: web.Request) -> web.Response:
    """POST /signed_url/:s/:r/:path ``{expiry | valid_for_secs, ...}`` → ``{"url": ...}``."""
    st = state(request)
    who = require_user(request)
    subject = request.match_info["subject"]
    repo = find_repo(st.org, who, subject, request.match_info["repo"])
    path = request.match_info["path"]
    if not repo.premium:
        raise ApiError(403, f"Repository '/{subject}/{repo.name}' must be premium")
    entitled_rw = who.caller.kind == "key" and any(
        e.repo == repo.name and e.access == "rw" and who.caller.name in e.access_keys
        for e in st.org.entitlements
    )
    if not (who.can_publish(repo) or entitled_rw):
        raise ApiError(403, "forbidden")
    if st.files.get(repo, path) is None:
        raise ApiError(404, f"File '{path}' was not found")
    body = await read_json(request)
    now_ms = int(st.clock() * 1000)
    expiry = now_ms + _DAY_MS
    if isinstance(body, dict):
        if isinstance(body.get("valid_for_secs"), int):
            expiry = now_ms + body["valid_for_secs"] * 1000
        elif isinstance(body.get("expiry"), int):
            expiry = body["expiry"]
    params = sign_url(st.org.url_signing_key, f"{st.org.name}/{repo.name}/{path}", expiry)
    location = "/".join(quote(part, safe="") for part in (st.org.name, repo.name))
    location += "/" + "/".join(quote(seg, safe="") for seg in path.split("/"))
    url = f"{st.download_base_url.rstrip('/')}/{location}?{urlencode(params)}"
    return json_response({"url": url})


async def rotate_keypair(request: web.Request) -> web.Response:
    """POST /subjects/:subject/keypair: a new signing key; old signed URLs stop working."""
    org = state(request).org
    require_org(org, request.match_info["subject"])
    require_admin(request)
    if not org.premium:
        raise ApiError(400, f"This action is not allowed for none-premium subject {org.name}")
    org.url_signing_key = secrets.token_hex(32)
    return json_response({"message": "success"}, status=201)


async def list_products(request: web.Request) -> web.Response:
    """GET /products/:subject → ``[{"name"}]`` (the live shape is an array)."""
    org = state(request).org
    require_org(org, request.match_info["subject"])
    return json_response([{"name": name} for name in org.products])


async def get_product(request: web.Request) -> web.Response:
    """GET /products/:subject/:product."""
    org = state(request).org
    require_org(org, request.match_info["subject"])
    name = request.match_info["product"]
    product = org.products.get(name)
    if product is None:
        raise ApiError(404, f"Product '{name}' was not found")
    return json_response(render.product(product))


ROUTES: list[Route] = [
    ("POST", "/signed_url/{subject}/{repo}/{path:.+}", signed_url),
    ("POST", "/subjects/{subject}/keypair", rotate_keypair),
    ("GET", "/products/{subject}", list_products),
    ("GET", "/products/{subject}/{product}", get_product),
]
