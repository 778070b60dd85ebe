"""The remaining documented reads of an organisation (reference 2.2, 11): followers, licenses,
webhooks, the GPG public key and usage thresholds.

The seeded model holds no followers and no webhooks, so those lists are empty, as for an
organisation that had none; proprietary licenses are the custom licenses its packages name.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from transfer.sandbox.bintray.lookup import find_repo, require_org
from transfer.sandbox.bintray.routes_repos import page_headers, start_pos
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    require_admin,
    rights,
    state,
)

__all__ = ["OSS_LICENSES", "ROUTES"]

OSS_LICENSES: tuple[dict[str, str], ...] = (
    {"name": "Apache-2.0", "longname": "The Apache Software License, Version 2.0",
     "url": "https://www.apache.org/licenses/LICENSE-2.0"},
    {"name": "BSD 3-Clause", "longname": "BSD 3-Clause \"New\" or \"Revised\" license",
     "url": "https://opensource.org/licenses/BSD-3-Clause"},
    {"name": "GPL-3.0", "longname": "GNU General Public License, version 3.0",
     "url": "https://www.gnu.org/licenses/gpl-3.0.html"},
    {"name": "MIT", "longname": "The MIT License",
     "url": "https://opensource.org/licenses/MIT"},
)  # fmt: skip
"""A few of Bintray's OSS license ids (the real list had about two hundred)."""


async def followers(request: web.Request) -> web.Response:
    """GET /users/:user/followers — paged ``[{"name"}]``; nobody follows anyone here."""
    name = request.match_info["user"]
    org = state(request).org
    if name not in org.users and name != org.name:
        raise ApiError(404, f"User '{name}' was not found")
    start = start_pos(request)
    return json_response([], headers=page_headers(0, start, 0))


async def oss_licenses(request: web.Request) -> web.Response:
    """GET /licenses/oss_licenses — ``[{"name", "longname", "url"}]``."""
    return json_response([dict(license_) for license_ in OSS_LICENSES])


async def org_licenses(request: web.Request) -> web.Response:
    """GET /orgs/:org/licenses (Premium, admin) — ``[{"name", "description", "url"}]``."""
    org = state(request).org
    require_org(org, request.match_info["org"])
    require_admin(request)
    if not org.premium:
        raise ApiError(403, "This resource is only available for premium subjects.")
    names = sorted(
        {
            name
            for repo in org.repos.values()
            for package in repo.packages.values()
            for name in package.custom_licenses
        }
    )
    return json_response([{"name": n, "description": "", "url": ""} for n in names])


async def webhooks(request: web.Request) -> web.Response:
    """GET /webhooks/:subject[/:repo] (admin) — ``[{"package", "url", "failure_count"}]``."""
    org = state(request).org
    require_org(org, request.match_info["subject"])
    require_admin(request)
    if "repo" in request.match_info:
        find_repo(org, rights(request), org.name, request.match_info["repo"])
    return json_response([])


async def gpg_public_key(request: web.Request) -> web.Response:
    """GET /orgs/:org/keys/gpg/public.key or /users/:user/... — public, ``application/pgp-keys``."""
    org = state(request).org
    if "org" in request.match_info:
        require_org(org, request.match_info["org"])
        key = org.gpg_public_key
    else:
        user = org.users.get(request.match_info["user"])
        if user is None:
            raise ApiError(404, f"User '{request.match_info['user']}' was not found")
        key = user.gpg_public_key
    if not key:
        raise ApiError(404, "No public key was found")
    return web.Response(text=key, content_type="application/pgp-keys")


async def usage_threshold(request: web.Request) -> web.Response:
    """GET /usage_threshold/{organization/:org, repo/:org/:repo, business_unit/:org/:bu}
    (Enterprise, admin) → ``{"monthly_storage_bytes", ..., "alert_to_admins"}``."""
    org = state(request).org
    require_org(org, request.match_info["org"])
    who = require_admin(request)
    if not org.premium:
        raise ApiError(403, "This resource is only available for enterprise subjects.")
    scope = request.match_info["scope"]
    if scope == "repo":
        key = "repo/" + find_repo(org, who, org.name, request.match_info["name"]).name
    elif scope == "business_unit":
        key = "business_unit/" + request.match_info["name"]
    else:
        key = "organization"
    threshold = org.usage_thresholds.get(key)
    if threshold is None:
        raise ApiError(404, "No usage threshold was found")
    return json_response(dataclasses.asdict(threshold))


ROUTES: list[Route] = [
    ("GET", "/users/{user}/followers", followers),
    ("GET", "/licenses/oss_licenses", oss_licenses),
    ("GET", "/orgs/{org}/licenses", org_licenses),
    ("GET", "/webhooks/{subject}", webhooks),
    ("GET", "/webhooks/{subject}/{repo}", webhooks),
    ("GET", "/orgs/{org}/keys/gpg/public.key", gpg_public_key),
    ("GET", "/users/{user}/keys/gpg/public.key", gpg_public_key),
    ("GET", "/usage_threshold/{scope:organization}/{org}", usage_threshold),
    ("GET", "/usage_threshold/{scope:repo|business_unit}/{org}/{name}", usage_threshold),
]
