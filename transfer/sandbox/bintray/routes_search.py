"""Attribute searches over packages, versions and files (reference 7.2, 7.3).

Only attributes the caller may see take part (``_`` names need publish rights), and only
objects the caller may see are answered, rendered like the corresponding GET.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.attrsearch import Clause, matches, parse_query
from transfer.sandbox.bintray.lookup import (
    file_visible,
    find_repo,
    latest_published,
    visible_versions,
)
from transfer.sandbox.bintray.routes_files import file_digests
from transfer.sandbox.bintray.routes_packages import package_context
from transfer.sandbox.bintray.state import Route, flag, json_response, read_json, rights, state
from transfer.sandbox.orgdata import BintrayRepo, Organization

__all__ = ["ROUTES"]


@dataclass(frozen=True, slots=True)
class _RepoSearch:
    """A search over one repository: what it holds, the clauses, the caller's publish rights."""

    org: Organization
    repo: BintrayRepo
    clauses: list[Clause]
    publisher: bool


async def _repo_search(request: web.Request) -> _RepoSearch:
    st = state(request)
    who = rights(request)
    repo = find_repo(st.org, who, request.match_info["subject"], request.match_info["repo"])
    clauses = parse_query(await read_json(request))
    return _RepoSearch(st.org, repo, clauses, who.can_publish(repo))


async def search_packages(request: web.Request) -> web.Response:
    """POST /search/attributes/:s/:r[?attribute_values=1] → matching package objects."""
    search = await _repo_search(request)
    repo, clauses, publisher = search.repo, search.clauses, search.publisher
    found = []
    for package in repo.packages.values():
        if not matches(render.visible_attributes(package.attributes, publisher), clauses):
            continue
        latest = latest_published(package)
        found.append(
            render.package(
                package,
                repo.name,
                search.org.name,
                versions=visible_versions(package, publisher),
                latest=latest.name if latest is not None else None,
                publisher=publisher,
                attribute_values=flag(request, "attribute_values"),
            )
        )
    return json_response(found)


async def search_versions(request: web.Request) -> web.Response:
    """POST /search/attributes/:s/:r/:p/versions[?attribute_values=1] → version objects."""
    ctx = package_context(request)
    clauses = parse_query(await read_json(request))
    found = [
        render.version(
            version,
            ctx.package.name,
            ctx.repo.name,
            ctx.owner,
            publisher=ctx.publisher,
            attribute_values=flag(request, "attribute_values"),
        )
        for version in visible_versions(ctx.package, ctx.publisher)
        if matches(render.visible_attributes(version.attributes, ctx.publisher), clauses)
    ]
    return json_response(found)


async def search_files(request: web.Request) -> web.Response:
    """POST /files/:s/:r/search/attributes → file objects (as in the file lists)."""
    search = await _repo_search(request)
    publisher = search.publisher
    found = []
    for package in search.repo.packages.values():
        for version in package.versions:
            for file in version.files:
                shown = render.visible_attributes(file.attributes, publisher)
                if file_visible(version, file, publisher) and matches(shown, search.clauses):
                    digests = await file_digests(search.org, file)
                    found.append(render.file_object(file, digests))
    return json_response(found)


# Registered before the file attribute routes, whose ``{path:.+}`` would swallow "search".
ROUTES: list[Route] = [
    ("POST", "/search/attributes/{subject}/{repo}", search_packages),
    ("POST", "/search/attributes/{subject}/{repo}/{package}/versions", search_versions),
    ("POST", "/files/{subject}/{repo}/search/attributes", search_files),
]
