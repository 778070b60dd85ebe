"""Searches by name or checksum (reference 1.5, 2.2, 3.3, 4.3): repositories, packages, users
and files.

The documentation gives the parameters, not the matching, so these are guesses: names and
descriptions match case-insensitively as substrings; a file ``name`` takes the documented ``*``
and ``?`` wildcards and must match the whole name; ``sha1`` matches exactly. Repository and
package searches cover public repositories only (documented); file search covers the published
files of repositories the caller may read. Results are paged like Get Packages.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.lookup import file_visible
from transfer.sandbox.bintray.routes_files import file_digests
from transfer.sandbox.bintray.routes_packages import PackageContext, package_body
from transfer.sandbox.bintray.routes_repos import page_headers, start_pos
from transfer.sandbox.bintray.routes_subjects import user_body
from transfer.sandbox.bintray.state import ApiError, Route, json_response, rights, state
from transfer.sandbox.orgdata import BintrayRepo

__all__ = ["ROUTES"]


def _contains(value: str | None, wanted: str | None) -> bool:
    return wanted is None or wanted.lower() in (value or "").lower()


def _criteria(request: web.Request, *names: str) -> dict[str, str | None]:
    found = {name: request.query.get(name) or None for name in names}
    if not any(found.values()):
        raise ApiError(400, f"Search needs at least one of: {', '.join(names)}")
    return found


def _paged(request: web.Request, items: list[Any]) -> web.Response:
    start = start_pos(request)
    page = items[start : start + state(request).options.page_size]
    return json_response(page, headers=page_headers(len(items), start, len(page)))


def _searched_repos(request: web.Request, *, public: bool) -> list[BintrayRepo]:
    org = state(request).org
    who = rights(request)
    subject = request.query.get("subject")
    if subject is not None and subject != org.name:
        return []
    wanted = request.query.get("repo")
    return [
        repo
        for repo in org.repos.values()
        if (wanted is None or repo.name == wanted)
        and (not repo.private if public else who.can_read(repo))
    ]


async def search_repos(request: web.Request) -> web.Response:
    """GET /search/repos?name=&desc= — public repositories, Get Repository's body each."""
    wanted = _criteria(request, "name", "desc")
    st = state(request)
    found = [
        render.repository(repo, st.org.name, debian_as_deb=st.options.report_debian_as_deb)
        for repo in _searched_repos(request, public=True)
        if _contains(repo.name, wanted["name"]) and _contains(repo.desc, wanted["desc"])
    ]
    return _paged(request, found)


async def search_packages(request: web.Request) -> web.Response:
    """GET /search/packages?name=&desc=&subject=&repo= — packages of public repositories."""
    wanted = _criteria(request, "name", "desc")
    who = rights(request)
    owner = state(request).org.name
    found = [
        package_body(request, PackageContext(who, owner, repo, pkg, who.can_publish(repo)))
        for repo in _searched_repos(request, public=True)
        for pkg in repo.packages.values()
        if _contains(pkg.name, wanted["name"]) and _contains(pkg.desc, wanted["desc"])
    ]
    return _paged(request, found)


def _maven_match(system_id: str, group: str, artifact: str, query: str) -> bool:
    found_group, _, found_artifact = system_id.partition(":")
    return (
        fnmatch.fnmatchcase(found_group, group or "*")
        and fnmatch.fnmatchcase(found_artifact, artifact or "*")
        and fnmatch.fnmatchcase(system_id, query or "*")
    )


async def search_maven(request: web.Request) -> web.Response:
    """GET /search/packages/maven?g=&a=&q=&subject=&repo= — packages whose Maven coordinates
    (``system_ids``, ``groupId:artifactId``) match; ``*`` wildcards allowed."""
    wanted = _criteria(request, "g", "a", "q")
    who = rights(request)
    owner = state(request).org.name
    found = [
        package_body(request, PackageContext(who, owner, repo, pkg, who.can_publish(repo)))
        for repo in _searched_repos(request, public=True)
        for pkg in repo.packages.values()
        if any(
            _maven_match(sid, wanted["g"] or "", wanted["a"] or "", wanted["q"] or "")
            for sid in pkg.system_ids
        )
    ]
    return _paged(request, found)


async def search_users(request: web.Request) -> web.Response:
    """GET /search/users?name= — Get User's body for every matching user."""
    wanted = _criteria(request, "name")
    names = sorted(n for n in state(request).org.users if _contains(n, wanted["name"]))
    return _paged(request, [user_body(request, name) for name in names])


async def search_files(request: web.Request) -> web.Response:
    """GET /search/file?name=|sha1=[&subject=&repo=] — file objects of readable repositories."""
    wanted = _criteria(request, "name", "sha1")
    org = state(request).org
    found = []
    for repo in _searched_repos(request, public=False):
        for package in repo.packages.values():
            for version in package.versions:
                for file in version.files:
                    if not file_visible(version, file, include_unpublished=False):
                        continue
                    if wanted["name"] and not fnmatch.fnmatchcase(file.name, wanted["name"]):
                        continue
                    digests = await file_digests(org, file)
                    if wanted["sha1"] and digests.sha1 != wanted["sha1"].lower():
                        continue
                    found.append(render.file_object(file, digests))
    return _paged(request, found)


ROUTES: list[Route] = [
    ("GET", "/search/repos", search_repos),
    ("GET", "/search/packages", search_packages),
    ("GET", "/search/packages/maven", search_maven),
    ("GET", "/search/users", search_users),
    ("GET", "/search/file", search_files),
]
