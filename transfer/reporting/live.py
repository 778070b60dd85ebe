"""The live report: ``report.html`` and the files it links, served over HTTP while a run goes on.

The server never touches the store itself: a ``build`` callback (the runner's, over a store
opened read-only) writes the whole report into a private temporary folder, again every
``refresh`` seconds, and the server hands out the files found there, by name only (nothing
outside the folder, nothing but GET and HEAD). The page the browser holds fetches itself again
at the same pace and swaps in the fresh sections, so a filter typed into the failures table
survives the refresh. A strict Content-Security-Policy keeps the page from loading anything
from anywhere, as the file written by ``transfer report`` does not either.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import anyio
from aiohttp import web

from transfer.errors import ConfigError

__all__ = ["SERVED_SUFFIXES", "is_loopback", "parse_bind", "serve_report"]

SERVED_SUFFIXES: Final = (".html", ".csv", ".json", ".md")
_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'"
    ),
}
_TYPES: Final = {
    ".html": "text/html",
    ".csv": "text/csv",
    ".json": "application/json",
    ".md": "text/markdown",
}


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a host and a port; ConfigError otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--serve wants HOST:PORT, e.g. 127.0.0.1:8080, not {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler(folder: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "report.html"
        path = folder / name
        if "/" in name or name.startswith(".") or path.suffix not in SERVED_SUFFIXES:
            raise web.HTTPNotFound(headers=_HEADERS)
        try:
            body = await anyio.Path(path).read_bytes()
        except FileNotFoundError:
            raise web.HTTPNotFound(headers=_HEADERS) from None
        return web.Response(
            body=body, content_type=_TYPES[path.suffix], charset="utf-8", headers=_HEADERS
        )

    return serve


async def serve_report(
    build: Callable[[Path], Awaitable[object]],
    host: str,
    port: int,
    *,
    refresh: float,
    on_ready: Callable[[str], None],
) -> None:
    """Build the report once, serve it at ``host:port`` and rebuild it every ``refresh``
    seconds until cancelled. ``on_ready`` gets the page's URL once it answers."""
    folder = Path(tempfile.mkdtemp(prefix="transfer-live-"))
    try:
        await build(folder)
        app = web.Application()
        serve = _handler(folder)
        app.router.add_get("/", serve)
        app.router.add_get("/{name}", serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0]
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            on_ready(f"http://{shown}:{bound[1]}/")
            while True:
                await anyio.sleep(refresh)
                await build(folder)
        finally:
            with anyio.CancelScope(shield=True):  # close every connection, even when cancelled
                await runner.cleanup()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(shutil.rmtree, folder, True)
