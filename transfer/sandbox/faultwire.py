"""The wire side of fault injection: pacing, resets, strike offsets and error responses."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus

from aiohttp import web

__all__ = ["ErrorBody", "Pacer", "error_response", "redirect", "reset", "strike_at", "write"]

ErrorBody = Callable[[int, str], web.Response]
"""Renders an error body in the emulator's style: ``error_body(status, message)``."""

_HTML_ERROR = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class Pacer:
    """Sleeps so that bytes pass at ``rate`` per second on average since the first byte."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.slice = max(1024, int(rate / 20))
        self.start: float | None = None
        self.sent = 0

    async def pace(self, size: int) -> None:
        """Account ``size`` more bytes, sleeping if they came early."""
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        self.sent += size
        delay = self.start + self.sent / self.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


async def write(
    response: web.StreamResponse, chunk: bytes | bytearray | memoryview, pacer: Pacer | None
) -> None:
    """Write ``chunk``, in paced slices when there is a pacer (slices are views, not copies)."""
    if pacer is None:
        await response.write(chunk)
        return
    view = memoryview(chunk)
    for start in range(0, len(view), pacer.slice):
        piece = view[start : start + pacer.slice]
        await response.write(piece)
        await pacer.pace(len(piece))


def strike_at(total: int, cut_at: float, fault: str) -> int | None:
    """Byte offset where a body fault strikes; None when the body is too short to fault."""
    if total < 2:
        return None
    if fault == "corrupt":
        return min(total - 1, int(cut_at * total))
    # at least one body byte goes out, and at least one is missing
    return 1 + min(total - 2, int(cut_at * (total - 1)))


def reset(request: web.BaseRequest) -> web.StreamResponse:
    """Reset the connection (RST, not FIN) and return a response aiohttp will fail to send."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=503)


def redirect(request: web.BaseRequest) -> web.StreamResponse:
    """A 302 back to the very URL requested."""
    return web.Response(status=302, headers={"Location": str(request.url)})


def error_response(
    status: int, retry_after: float | None, error_body: ErrorBody | None
) -> web.Response:
    """A 5xx or 429 answer: proxy HTML for 502/504, else the emulator's error style."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error"
    if status in (502, 504):
        response = web.Response(
            status=status, text=_HTML_ERROR.format(f"{status} {phrase}"), content_type="text/html"
        )
    elif error_body is not None:
        response = error_body(status, f"{phrase} (injected fault)")
    else:
        response = web.json_response({"message": f"{phrase} (injected fault)"}, status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = f"{retry_after:g}"
    return response
