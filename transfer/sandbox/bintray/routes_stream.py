"""The event firehose, ``GET /stream/:subject`` (reference 11), bounded to what the emulator saw.

Bintray streamed one-line JSON events separated by CRLF over a chunked response, with empty
keep-alive lines, to at most three connections per subject. Here the events are the downloads,
uploads and file deletions in the request log: those it still keeps are sent on connect, later
ones at each keep-alive tick. The stream runs until the client closes it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from transfer.sandbox.bintray.downloads import CDN_PREFIX
from transfer.sandbox.bintray.lookup import require_org
from transfer.sandbox.bintray.state import ApiError, EmulatorState, Route, require_admin, state
from transfer.sandbox.requestlog import RequestRecord

__all__ = ["ROUTES", "event"]


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def event(org: str, record: RequestRecord) -> dict[str, Any] | None:
    """The stream event a logged request stands for, or None for requests that are not one."""
    path = record.path.removeprefix("/api/v1")
    if record.method == "GET" and record.status in (200, 206):
        kind, path = "download", path.removeprefix(CDN_PREFIX)
        prefix = f"/{org}/"
    elif record.method == "PUT" and record.status == 201:
        kind, prefix = "upload", f"/content/{org}/"
    elif record.method == "DELETE" and record.status == 200:
        kind, prefix = "delete", f"/content/{org}/"
    else:
        return None
    if not path.startswith(prefix):
        return None
    repo, _, file_path = unquote(path.removeprefix(prefix)).partition("/")
    if not file_path:
        return None
    return {
        "type": kind,
        "time": _iso(record.at),
        "ip_address": "127.0.0.1",
        "subject": org,
        "repo": repo,
        "path": file_path,
        "username": record.user or "anonymous",
    }


def _new_events(st: EmulatorState, seen: int) -> tuple[list[dict[str, Any]], int]:
    """The events of the requests recorded after position ``seen``, and the position now."""
    log = st.request_log
    events = [e for r in log.since(seen) if (e := event(st.org.name, r)) is not None]
    return events, log.recorded


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /stream/:subject (admin): chunked CRLF-separated events; 429 past the connection cap."""
    st = state(request)
    require_org(st.org, request.match_info["subject"])
    require_admin(request)
    if st.open_streams >= st.options.stream_max_connections:
        raise ApiError(429, "Too many open streams for this subject")
    st.open_streams += 1
    try:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        seen = 0
        while True:
            events, seen = _new_events(st, seen)
            lines = b"".join(orjson.dumps(e) + b"\r\n" for e in events)
            await response.write(lines or b"\r\n")
            await asyncio.sleep(st.options.stream_keepalive)
    finally:
        st.open_streams -= 1


ROUTES: list[Route] = [("GET", "/stream/{subject}", stream)]
