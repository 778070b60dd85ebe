"""Packages, versions, their attributes and download statistics (reference 4, 5, 7.1, 11)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.attributes import (
    delete_attributes,
    merge_attributes,
    parse_attributes,
    select_attributes,
)
from transfer.sandbox.bintray.auth import Rights
from transfer.sandbox.bintray.lookup import (
    find_package,
    find_repo,
    find_version,
    latest_published,
    visible_versions,
)
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    flag,
    json_response,
    read_json,
    require_user,
    rights,
    state,
    success,
)
from transfer.sandbox.orgdata import Attribute, BintrayPackage, BintrayRepo, BintrayVersion

__all__ = [
    "ROUTES",
    "PackageContext",
    "package_body",
    "package_context",
    "premium_publisher_context",
    "version_body",
]


@dataclass(frozen=True, slots=True)
class PackageContext:
    """A resolved package: the repository that owns it and the caller's rights there."""

    who: Rights
    owner: str
    repo: BintrayRepo
    package: BintrayPackage
    publisher: bool


def package_context(request: web.Request) -> PackageContext:
    """Resolve ``/:subject/:repo/:package`` of the request, 404 when invisible."""
    org = state(request).org
    who = rights(request)
    repo = find_repo(org, who, request.match_info["subject"], request.match_info["repo"])
    owning_repo, pkg = find_package(org, repo, request.match_info["package"])
    return PackageContext(who, org.name, owning_repo, pkg, who.can_publish(owning_repo))


def _version(ctx: PackageContext, request: web.Request) -> BintrayVersion:
    return find_version(ctx.package, request.match_info["version"], ctx.publisher)


def package_body(request: web.Request, ctx: PackageContext) -> dict[str, Any]:
    """Get Package's body for the caller of ``request``."""
    latest = latest_published(ctx.package)
    return render.package(
        ctx.package,
        ctx.repo.name,
        ctx.owner,
        versions=visible_versions(ctx.package, ctx.publisher),
        latest=latest.name if latest is not None else None,
        publisher=ctx.publisher,
        attribute_values=flag(request, "attribute_values"),
    )


def version_body(request: web.Request, ctx: PackageContext, ver: BintrayVersion) -> dict[str, Any]:
    """Get Version's body for the caller of ``request``."""
    return render.version(
        ver,
        ctx.package.name,
        ctx.repo.name,
        ctx.owner,
        publisher=ctx.publisher,
        attribute_values=flag(request, "attribute_values"),
    )


async def get_package(request: web.Request) -> web.Response:
    """GET/HEAD /packages/:s/:r/:p[?attribute_values=1]."""
    return json_response(package_body(request, package_context(request)))


async def get_version(request: web.Request) -> web.Response:
    """GET/HEAD /packages/:s/:r/:p/versions/:v (``_latest`` allowed)."""
    ctx = package_context(request)
    return json_response(version_body(request, ctx, _version(ctx, request)))


def _target(request: web.Request, ctx: PackageContext) -> BintrayPackage | BintrayVersion:
    if "version" in request.match_info:
        return _version(ctx, request)
    return ctx.package


async def get_attributes(request: web.Request) -> web.Response:
    """GET package or version attributes ``[?names=a,b]`` with lower-case types."""
    ctx = package_context(request)
    target = _target(request, ctx)
    shown = render.visible_attributes(target.attributes, ctx.publisher)
    return json_response(
        render.attribute_list(select_attributes(shown, request.query.get("names")))
    )


def _writable(request: web.Request) -> PackageContext:
    require_user(request)
    ctx = package_context(request)
    if not ctx.publisher:
        raise ApiError(403, "forbidden")
    return ctx


async def replace_attributes(request: web.Request) -> web.Response:
    """POST: replace every attribute; answers the resulting list."""
    ctx = _writable(request)
    target = _target(request, ctx)
    parsed = parse_attributes(await read_json(request), lenient=False)
    target.attributes = [a for a in parsed if isinstance(a, Attribute)]
    return json_response(render.attribute_list(target.attributes))


async def update_attributes(request: web.Request) -> web.Response:
    """PATCH: merge by name (null values remove); answers the resulting list."""
    ctx = _writable(request)
    target = _target(request, ctx)
    parsed = parse_attributes(await read_json(request), lenient=True)
    target.attributes = merge_attributes(target.attributes, parsed)
    return json_response(render.attribute_list(target.attributes))


async def remove_attributes(request: web.Request) -> web.Response:
    """DELETE ``[?names=a,b]``."""
    ctx = _writable(request)
    target = _target(request, ctx)
    target.attributes = delete_attributes(target.attributes, request.query.get("names"))
    return success()


def premium_publisher_context(request: web.Request) -> PackageContext:
    """A package for its publishers' Premium reads (statistics, download logs): 401 for
    anonymous callers, 403 for a non-premium repository or a caller without publish rights."""
    require_user(request)
    ctx = package_context(request)
    if not ctx.repo.premium:
        raise ApiError(403, "This resource is only available for premium packages.")
    if not ctx.publisher:
        raise ApiError(403, "forbidden")
    return ctx


async def total_downloads(request: web.Request) -> web.Response:
    """POST .../stats/total_downloads → ``{"from","to","records":[{"version","count"}]}``."""
    ctx = premium_publisher_context(request)
    body = await read_json(request)
    window: dict[str, Any] = body if isinstance(body, dict) else {}
    names = [v.name for v in ctx.package.versions]
    if "version" in request.match_info:
        names = [_version(ctx, request).name]
    records = [
        {"version": name, "count": ctx.package.download_counts.get(name, 0)} for name in names
    ]
    return json_response({"from": window.get("from"), "to": window.get("to"), "records": records})


_PKG = "/packages/{subject}/{repo}/{package}"
_VER = _PKG + "/versions/{version}"

ROUTES: list[Route] = [
    ("GET", _PKG, get_package),
    ("GET", _VER, get_version),
    *[
        (method, base + "/attributes", handler)
        for base in (_PKG, _VER)
        for method, handler in (
            ("GET", get_attributes),
            ("POST", replace_attributes),
            ("PATCH", update_attributes),
            ("DELETE", remove_attributes),
        )
    ],
    ("POST", _PKG + "/stats/total_downloads", total_downloads),
    ("POST", _VER + "/stats/total_downloads", total_downloads),
]
