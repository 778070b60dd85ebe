"""Repositories, their restrictions and the paged package list (reference 3 and 4.1)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import find_repo, linked_packages
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    require_admin,
    rights,
    state,
)
from transfer.sandbox.orgdata import BintrayRepo

__all__ = ["ROUTES", "page_headers", "start_pos"]


def _repo(request: web.Request) -> BintrayRepo:
    return find_repo(
        state(request).org,
        rights(request),
        request.match_info["subject"],
        request.match_info["repo"],
    )


async def list_repos(request: web.Request) -> web.Response:
    """GET /repos/:subject → ``[{"name","owner"}]``, private ones only for readers."""
    org = state(request).org
    subject = request.match_info["subject"]
    if subject in org.users and subject != org.name:
        return json_response([])
    if subject != org.name:
        raise ApiError(404, f"Subject '{subject}' was not found")
    who = rights(request)
    return json_response(
        [{"name": r.name, "owner": org.name} for r in org.repos.values() if who.can_read(r)]
    )


async def get_repo(request: web.Request) -> web.Response:
    """GET/HEAD /repos/:s/:r."""
    st = state(request)
    repo = _repo(request)
    body = render.repository(repo, st.org.name, debian_as_deb=st.options.report_debian_as_deb)
    return json_response(body)


async def get_geo_restrictions(request: web.Request) -> web.Response:
    """GET /repos/:s/:r/geo_restrictions (Enterprise, admin)."""
    repo = _repo(request)
    require_admin(request)
    if not state(request).org.premium:
        raise ApiError(
            403,
            "Account Plan is not suitable for repo geo restriction. "
            "Your current plan does not support geo restrictions.",
        )
    geo = repo.geo_restrictions
    return json_response(
        {
            "white_list": list(geo.get("white_list", [])),
            "black_list": list(geo.get("black_list", [])),
        }
    )


async def get_ip_restrictions(request: web.Request) -> web.Response:
    """GET /repos/:s/:r/ip_restrictions (admin); the live shape carries ``hasWritePermission``."""
    repo = _repo(request)
    require_admin(request)
    if not repo.premium:
        raise ApiError(403, "Your repo commercial type does not support IP restrictions.")
    ip = repo.ip_restrictions
    return json_response(
        {
            "white_cidrs": list(ip.get("white_cidrs", [])),
            "black_cidrs": list(ip.get("black_cidrs", [])),
            "hasWritePermission": None,
        }
    )


def page_headers(total: int, start: int, count: int) -> dict[str, str]:
    """``X-RangeLimit-*``; EndPos is inclusive, so an empty page ends at ``start - 1``."""
    return {
        "X-RangeLimit-Total": str(total),
        "X-RangeLimit-StartPos": str(start),
        "X-RangeLimit-EndPos": str(start + count - 1),
    }


def start_pos(request: web.Request) -> int:
    """The ``start_pos`` of a paged list (0 when absent; 400 when not a number)."""
    raw = request.query.get("start_pos", "0")
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid start_pos '{raw}'") from exc
    return max(0, value)


async def list_packages(request: web.Request) -> web.Response:
    """GET /repos/:s/:r/packages — paged by ``start_pos``, filtered by ``start_name``."""
    st = state(request)
    repo = _repo(request)
    items: list[dict[str, Any]] = [{"name": p, "linked": False} for p in repo.packages]
    items += [{"name": p.name, "linked": True} for p in linked_packages(st.org, repo)]
    prefix = request.query.get("start_name")
    if prefix:
        items = [i for i in items if i["name"].startswith(prefix)]
    items.sort(key=lambda i: (i["name"].lower(), i["name"]))
    if rights(request).caller.anonymous:
        items = items[: st.options.anonymous_package_cap]
    start = start_pos(request)
    page = items[start : start + st.options.page_size]
    return json_response(page, headers=page_headers(len(items), start, len(page)))


ROUTES: list[Route] = [
    ("GET", "/repos/{subject}", list_repos),
    ("GET", "/repos/{subject}/{repo}", get_repo),
    ("GET", "/repos/{subject}/{repo}/geo_restrictions", get_geo_restrictions),
    ("GET", "/repos/{subject}/{repo}/ip_restrictions", get_ip_restrictions),
    ("GET", "/repos/{subject}/{repo}/packages", list_packages),
]
