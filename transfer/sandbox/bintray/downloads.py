"""The download host: ``/:subject/:repo/:path``, folder indexes and the CDN redirect target.

Bodies are streamed from the content source in 1 MiB chunks through the fault injector; a
file is never built in memory. Errors here are plain text, as on dl.bintray.com.
"""

from __future__ import annotations

import html
import math
import mimetypes
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from aiohttp import web

from transfer.sandbox.bintray.auth import InvalidCredentials, Rights, authenticate
from transfer.sandbox.bintray.fileindex import FileRef
from transfer.sandbox.bintray.lookup import file_visible
from transfer.sandbox.bintray.ranges import Unsatisfiable, parse_range
from transfer.sandbox.bintray.signing import (
    SignatureStatus,
    cdn_token,
    check_cdn_token,
    check_signed_url,
)
from transfer.sandbox.bintray.state import CALLER, EmulatorState, Route, flag, state
from transfer.sandbox.orgdata import BintrayRepo

__all__ = ["BYTES_OUT", "CDN_PREFIX", "ROUTES", "STATUS"]

CDN_PREFIX = "/_cdn"
BYTES_OUT = web.RequestKey("bintray_bytes_out", int)
STATUS = web.RequestKey("bintray_status", int)
_CHUNK = 1024 * 1024


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, headers=headers)


def _quote_path(*parts: str) -> str:
    return "/".join(quote(seg, safe="") for part in parts for seg in part.split("/"))


def _who(request: web.Request, st: EmulatorState) -> Rights:
    caller = authenticate(st.org, request.headers.get("Authorization"), st.clock())
    request[CALLER] = caller
    return Rights(st.org, caller)


def _denied(who: Rights) -> web.Response:
    if who.caller.anonymous:
        return _plain(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Bintray"'})
    return _plain(403, "Forbidden")


async def download(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /:subject/:repo/:path — a folder index, a 302 to the CDN, or the bytes."""
    st = state(request)
    try:
        who = _who(request, st)
    except InvalidCredentials:
        return _plain(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Bintray"'})
    subject, repo_name = request.match_info["subject"], request.match_info["repo"]
    path = request.match_info.get("path", "")
    repo = st.org.repos.get(repo_name) if subject == st.org.name else None
    if repo is None:
        return _plain(404, "Not Found")
    if path == "" or path.endswith("/"):
        if not who.can_read(repo):
            return _denied(who)
        return _index(request, st, who, repo, path)
    ref = st.files.get(repo, path)
    if ref is None:
        return _plain(404, "Not Found")
    resource = f"{subject}/{repo.name}/{path}"
    signature = check_signed_url(st.org.url_signing_key, resource, request.query, st.clock())
    if signature in (SignatureStatus.INVALID, SignatureStatus.EXPIRED):
        return _plain(403, "Forbidden: the signed URL is invalid or has expired")
    if signature != SignatureStatus.VALID and not who.can_download(repo, ref.file):
        return _denied(who)
    unpublished_ok = flag(request, "include_unpublished") and who.can_publish(repo)
    if not file_visible(ref.version, ref.file, unpublished_ok):
        return _plain(404, "Not Found")
    if st.options.redirect_downloads and (not repo.private or st.options.redirect_private):
        expires_at = math.ceil(st.clock() + st.options.cdn_token_ttl)
        token = cdn_token(st.cdn_secret, resource, expires_at)
        disposition = quote(f'attachment;filename="{ref.file.name}"', safe="")
        location = (
            f"{request.url.origin()}{CDN_PREFIX}/{_quote_path(subject, repo.name, path)}"
            f"?__gda__={token}&response-content-disposition={disposition}"
        )
        return web.Response(status=302, headers={"Location": location})
    # Range on a direct (unredirected) answer is unconfirmed for Bintray: serve it whole
    return await _send(request, st, ref, None)


async def cdn(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /_cdn/:subject/:repo/:path?__gda__=... — the redirect target, with Range."""
    st = state(request)
    subject, repo_name = request.match_info["subject"], request.match_info["repo"]
    path = request.match_info["path"]
    resource = f"{subject}/{repo_name}/{path}"
    if not check_cdn_token(st.cdn_secret, resource, request.query.get("__gda__", ""), st.clock()):
        return _plain(403, "Access Denied: the download token is invalid or has expired")
    repo = st.org.repos.get(repo_name) if subject == st.org.name else None
    ref = st.files.get(repo, path) if repo is not None else None
    if ref is None:
        return _plain(404, "Not Found")
    try:
        wanted = parse_range(request.headers.get("Range"), ref.file.size)
    except Unsatisfiable:
        return _plain(
            416, "Requested Range Not Satisfiable", {"Content-Range": f"bytes */{ref.file.size}"}
        )
    return await _send(request, st, ref, wanted, ranges=True)


def _counted(
    request: web.Request, chunks: Iterable[bytes | memoryview]
) -> Iterator[bytes | memoryview]:
    for chunk in chunks:
        request[BYTES_OUT] = request.get(BYTES_OUT, 0) + len(chunk)
        yield chunk


async def _send(
    request: web.Request,
    st: EmulatorState,
    ref: FileRef,
    wanted: tuple[int, int] | None,
    *,
    ranges: bool = False,
) -> web.StreamResponse:
    file = ref.file
    start, end = wanted if wanted is not None else (0, file.size)
    response = web.StreamResponse(status=206 if wanted is not None else 200)
    response.content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    response.content_length = end - start
    if ranges:
        response.headers["Accept-Ranges"] = "bytes"
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
    request[STATUS] = response.status
    request[BYTES_OUT] = 0
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        return response
    chunks = _counted(
        request,
        st.org.content.iter_bytes(
            file.content_key, file.size, kind=file.kind, start=start, end=end, chunk_size=_CHUNK
        ),
    )
    if st.faults is not None:
        return await st.faults.stream_response(request, response, chunks)
    for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


def _index(
    request: web.Request, st: EmulatorState, who: Rights, repo: BintrayRepo, prefix: str
) -> web.Response:
    unpublished_ok = flag(request, "include_unpublished") and who.can_publish(repo)
    entries: set[str] = set()
    for package in repo.packages.values():
        for version in package.versions:
            for file in version.files:
                if file.path.startswith(prefix) and file_visible(version, file, unpublished_ok):
                    rest = file.path[len(prefix) :]
                    head, slash, _ = rest.partition("/")
                    entries.add(head + slash)
    if prefix and not entries:
        return _plain(404, "Not Found")
    return _html_listing(f"/{st.org.name}/{repo.name}/{prefix}", sorted(entries))


def _html_listing(title: str, entries: list[str]) -> web.Response:
    lines = [
        f'<a href="{quote(e.rstrip("/"), safe="")}{"/" if e.endswith("/") else ""}">'
        f"{html.escape(e)}</a>"
        for e in entries
    ]
    body = (
        f"<html><head><title>{html.escape(title)}</title></head><body>\n"
        f"<pre>\n{chr(10).join(lines)}\n</pre>\n</body></html>\n"
    )
    return web.Response(text=body, content_type="text/html")


async def subject_index(request: web.Request) -> web.Response:
    """GET /:subject/ — the repositories the caller can read, as folders."""
    st = state(request)
    try:
        who = _who(request, st)
    except InvalidCredentials:
        return _plain(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Bintray"'})
    if request.match_info["subject"] != st.org.name:
        return _plain(404, "Not Found")
    names = [f"{r.name}/" for r in st.org.repos.values() if who.can_read(r)]
    return _html_listing(f"/{st.org.name}/", sorted(names))


async def repo_without_slash(request: web.Request) -> web.Response:
    """GET /:subject/:repo — folder URLs end in ``/`` so relative links resolve."""
    raise web.HTTPMovedPermanently(location=request.rel_url.raw_path + "/")


ROUTES: list[Route] = [
    ("GET", CDN_PREFIX + "/{subject}/{repo}/{path:.+}", cdn),
    ("GET", "/{subject}/", subject_index),
    ("GET", "/{subject}/{repo}", repo_without_slash),
    ("GET", "/{subject}/{repo}/{path:.*}", download),
]
