"""A package's readme and release notes, and its download logs (reference 11).

Readme and release notes are public wherever the package is; the ``github`` variants answer for
packages that point at GitHub instead of holding text. Download logs are a Premium feature for
publishers: each log is served gzipped, its Apache-style lines as seeded.
"""

from __future__ import annotations

import gzip
from typing import Any

from aiohttp import web

from transfer.sandbox.bintray.lookup import find_version
from transfer.sandbox.bintray.routes_packages import (
    PackageContext,
    package_context,
    premium_publisher_context,
)
from transfer.sandbox.bintray.state import ApiError, Route, json_response

__all__ = ["ROUTES", "gzipped"]


def gzipped(lines: list[str]) -> bytes:
    """The bytes of a log: its lines gzipped with a fixed mtime, so sizes are deterministic."""
    return gzip.compress("".join(line + "\n" for line in lines).encode(), mtime=0)


def _envelope(ctx: PackageContext, **extra: Any) -> dict[str, Any]:
    return {"package": ctx.package.name, "repo": ctx.repo.name, "owner": ctx.owner, **extra}


async def readme(request: web.Request) -> web.Response:
    """GET /packages/:s/:r/:p/readme → ``{"package","repo","owner","bintray"|"github"}``."""
    ctx = package_context(request)
    if ctx.package.readme:
        body = {"syntax": "markdown", "content": ctx.package.readme}
        return json_response(_envelope(ctx, bintray=body))
    if ctx.package.github_repo:
        return json_response(_envelope(ctx, github={"github_repo": ctx.package.github_repo}))
    raise ApiError(404, f"Package '{ctx.package.name}' has no readme")


async def release_notes(request: web.Request) -> web.Response:
    """GET .../release_notes of a package or a version; 404 when there are none."""
    ctx = package_context(request)
    if "version" in request.match_info:
        version = find_version(ctx.package, request.match_info["version"], ctx.publisher)
        extra: dict[str, Any] = {"version": version.name}
        text, github = version.release_notes, version.github_release_notes_file
        if not text and not github and version.github_use_tag_release_notes:
            return json_response(_envelope(ctx, **extra, github={"use_release": True}))
    else:
        extra = {}
        text, github = ctx.package.release_notes, ctx.package.github_release_notes_file
    if text:
        body = {"syntax": "markdown", "content": text}
        return json_response(_envelope(ctx, **extra, bintray=body))
    if github:
        notes = {"github_release_notes_file": github}
        return json_response(_envelope(ctx, **extra, github=notes))
    raise ApiError(404, "No release notes were found")


async def list_logs(request: web.Request) -> web.Response:
    """GET /packages/:s/:r/:p/logs → ``[{"name","size","update"}]``, newest first."""
    ctx = premium_publisher_context(request)
    logs = sorted(ctx.package.download_logs, key=lambda log: log.update, reverse=True)
    return json_response(
        [{"name": log.name, "size": len(gzipped(log.lines)), "update": log.update} for log in logs]
    )


async def get_log(request: web.Request) -> web.Response:
    """GET /packages/:s/:r/:p/logs/:log_name → the gzipped log."""
    ctx = premium_publisher_context(request)
    name = request.match_info["log_name"]
    for log in ctx.package.download_logs:
        if log.name == name:
            return web.Response(
                body=gzipped(log.lines),
                content_type="application/gzip",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
    raise ApiError(404, f"Log '{name}' was not found")


_PKG = "/packages/{subject}/{repo}/{package}"

ROUTES: list[Route] = [
    ("GET", _PKG + "/readme", readme),
    ("GET", _PKG + "/release_notes", release_notes),
    ("GET", _PKG + "/versions/{version}/release_notes", release_notes),
    ("GET", _PKG + "/logs", list_logs),
    ("GET", _PKG + "/logs/{log_name}", get_log),
]
