"""Emulators served from a background thread, for the synchronous clients of the compat tier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from transfer.sandbox.artifactory import ArtifactoryEmulator
from transfer.sandbox.bintray import BintrayEmulator

START_TIMEOUT = 10.0


@contextmanager
def serving(*apps: web.Application) -> Iterator[list[str]]:
    """Serve aiohttp applications on 127.0.0.1:0 from a private loop in a thread; yield base URLs.

    A synchronous client blocks the calling thread, so the servers cannot share the test's loop.
    """
    loop = asyncio.new_event_loop()
    runners: list[web.AppRunner] = []

    async def start() -> list[str]:
        urls = []
        for app in apps:
            runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            urls.append(f"http://127.0.0.1:{port}")
        return urls

    async def stop() -> None:
        for runner in reversed(runners):
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_forever, name="compat-emulators", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT)
    finally:
        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(START_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT)
            loop.close()


@dataclass
class ArtifactoryServer:
    """A running Artifactory emulator: its root URL (``/artifactory`` and ``/access`` below it)."""

    emulator: ArtifactoryEmulator
    root: str

    @property
    def url(self) -> str:
        """The Artifactory base URL clients are configured with."""
        return f"{self.root}/artifactory"


@dataclass
class BintrayServer:
    """A running Bintray emulator serving the hand-made organisation of ``bintray_org``."""

    emulator: BintrayEmulator
    api: str
    dl: str
