"""System endpoints (§9): ping, version, service id, multipart-upload config."""

from __future__ import annotations

from aiohttp import web

from .common import json_response
from .state import require_admin, state_of

__all__ = ["revision", "routes"]

ADDONS = [
    "build",
    "docker",
    "filestore",
    "ha",
    "ldap",
    "properties",
    "rest",
    "search",
    "sso",
    "signed-urls",
    "replication",
    "webstart",
]


def revision(version: str) -> str:
    """Artifactory's revision number for a version: 7.77.5 → ``77705900``."""
    numbers = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    return f"{major}{minor}{patch:02d}900"


async def ping(request: web.Request) -> web.Response:
    """GET /api/system/ping: 200 text/plain ``OK`` (no credentials needed)."""
    return web.Response(text="OK", content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    """GET /api/system/version: {version, revision, addons, license}."""
    current = state_of(request).options.version
    return json_response(
        {
            "version": current,
            "revision": revision(current),
            "addons": ADDONS,
            "license": "0123456789abcdef0123456789abcdef01234567",
        }
    )


async def service_id(request: web.Request) -> web.Response:
    """GET /api/system/service_id: 200 text/plain ``jfrt@<id>``, unique to the instance
    (admin only, as documented)."""
    require_admin(request)
    return web.Response(text=state_of(request).service_id, content_type="text/plain")


async def uploads_config(request: web.Request) -> web.Response:
    """GET /api/v1/uploads/config: multipart upload is not supported by the emulator."""
    return json_response({"supported": False})


def routes(prefix: str) -> list[web.RouteDef]:
    """System routes (plus the Access ping)."""
    return [
        web.get(f"{prefix}/api/system/ping", ping),
        web.get("/access/api/v1/system/ping", ping),
        web.get(f"{prefix}/api/system/version", version),
        web.get(f"{prefix}/api/system/service_id", service_id),
        web.get(f"{prefix}/api/v1/uploads/config", uploads_config),
    ]
