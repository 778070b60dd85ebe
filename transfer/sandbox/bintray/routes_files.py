"""File lists, the package and version that hold a file, and file attributes (reference 4.3,
5.2, 6.1 and 7.2)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from transfer.sandbox.bintray import render
from transfer.sandbox.bintray.attributes import (
    delete_attributes,
    merge_attributes,
    parse_attributes,
    select_attributes,
)
from transfer.sandbox.bintray.fileindex import FileRef
from transfer.sandbox.bintray.lookup import file_visible, find_repo, find_version
from transfer.sandbox.bintray.routes_packages import (
    PackageContext,
    package_body,
    package_context,
    version_body,
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
)
from transfer.sandbox.content import Digests
from transfer.sandbox.orgdata import Attribute, BintrayFile, BintrayVersion, Organization

__all__ = ["ROUTES", "file_digests"]

# hashing a big generated file takes a while; keep the event loop serving meanwhile
_THREAD_THRESHOLD = 4 * 1024 * 1024


async def file_digests(org: Organization, file: BintrayFile) -> Digests:
    """sha1/sha256 of a file's generated content (memoised by the content source)."""
    if file.size <= _THREAD_THRESHOLD:
        return org.content.digests(file.content_key, file.size, kind=file.kind)
    return await asyncio.to_thread(org.content.digests, file.content_key, file.size, kind=file.kind)


async def _listing(
    org: Organization, versions: list[BintrayVersion], include_unpublished: bool
) -> list[dict[str, Any]]:
    chosen = [
        file
        for version in versions
        for file in version.files
        if file_visible(version, file, include_unpublished)
    ]
    return [render.file_object(file, await file_digests(org, file)) for file in chosen]


async def package_files(request: web.Request) -> web.Response:
    """GET /packages/:s/:r/:p/files[?include_unpublished=1] (publishers only see unpublished)."""
    ctx = package_context(request)
    include = ctx.publisher and flag(request, "include_unpublished")
    versions = [v for v in ctx.package.versions if ctx.publisher or v.published]
    return json_response(await _listing(state(request).org, versions, include))


async def version_files(request: web.Request) -> web.Response:
    """GET /packages/:s/:r/:p/versions/:v/files[?include_unpublished=1]."""
    ctx = package_context(request)
    include = ctx.publisher and flag(request, "include_unpublished")
    version = find_version(ctx.package, request.match_info["version"], ctx.publisher)
    return json_response(await _listing(state(request).org, [version], include))


def _file(request: web.Request) -> tuple[FileRef, bool]:
    st = state(request)
    who = rights(request)
    repo = find_repo(st.org, who, request.match_info["subject"], request.match_info["repo"])
    path = request.match_info["path"]
    ref = st.files.get(repo, path)
    publisher = who.can_publish(repo)
    if ref is None or not file_visible(ref.version, ref.file, publisher):
        raise ApiError(404, f"File '{path}' was not found")
    return ref, publisher


def _owner_context(request: web.Request) -> tuple[PackageContext, BintrayVersion]:
    ref, publisher = _file(request)
    who = rights(request)
    repo = find_repo(
        state(request).org, who, request.match_info["subject"], request.match_info["repo"]
    )
    return PackageContext(who, state(request).org.name, repo, ref.package, publisher), ref.version


async def file_package(request: web.Request) -> web.Response:
    """GET /file_package/:s/:r/:path — the package that holds the file (Get Package's body)."""
    ctx, _ = _owner_context(request)
    return json_response(package_body(request, ctx))


async def file_version(request: web.Request) -> web.Response:
    """GET /file_version/:s/:r/:path — the version that holds the file (Get Version's body)."""
    ctx, version = _owner_context(request)
    return json_response(version_body(request, ctx, version))


async def get_file_attributes(request: web.Request) -> web.Response:
    """GET /files/:s/:r/:path/attributes — types in upper case."""
    ref, publisher = _file(request)
    shown = render.visible_attributes(ref.file.attributes, publisher)
    chosen = select_attributes(shown, request.query.get("names"))
    return json_response(render.attribute_list(chosen, upper=True))


def _writable(request: web.Request) -> BintrayFile:
    require_user(request)
    ref, publisher = _file(request)
    if not publisher:
        raise ApiError(403, "forbidden")
    return ref.file


async def replace_file_attributes(request: web.Request) -> web.Response:
    """POST: replace all attributes of the file; answers the resulting list."""
    file = _writable(request)
    parsed = parse_attributes(await read_json(request), lenient=False)
    file.attributes = [a for a in parsed if isinstance(a, Attribute)]
    return json_response(render.attribute_list(file.attributes, upper=True))


async def update_file_attributes(request: web.Request) -> web.Response:
    """PATCH: merge attributes by name; answers the resulting list."""
    file = _writable(request)
    parsed = parse_attributes(await read_json(request), lenient=True)
    file.attributes = merge_attributes(file.attributes, parsed)
    return json_response(render.attribute_list(file.attributes, upper=True))


async def delete_file_attributes(request: web.Request) -> web.Response:
    """DELETE ``[?names=a,b]`` with the file-specific success message."""
    file = _writable(request)
    file.attributes = delete_attributes(file.attributes, request.query.get("names"))
    message = f"Attributes were deleted successfully from the following file path: {file.path}"
    return json_response({"message": message})


_PKG = "/packages/{subject}/{repo}/{package}"
_FILE_ATTRS = "/files/{subject}/{repo}/{path:.+}/attributes"

ROUTES: list[Route] = [
    ("GET", _PKG + "/files", package_files),
    ("GET", _PKG + "/versions/{version}/files", version_files),
    ("GET", "/file_package/{subject}/{repo}/{path:.+}", file_package),
    ("GET", "/file_version/{subject}/{repo}/{path:.+}", file_version),
    ("GET", _FILE_ATTRS, get_file_attributes),
    ("POST", _FILE_ATTRS, replace_file_attributes),
    ("PATCH", _FILE_ATTRS, update_file_attributes),
    ("DELETE", _FILE_ATTRS, delete_file_attributes),
]
