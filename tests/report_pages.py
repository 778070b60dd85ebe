"""The demo organisation migrated with a few downloads failing for good, and its report: shared by
the report page's tests (the live server's and the browser's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from sandbox_settings import sandbox_settings

from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.reporting.report import ReportPaths
from transfer.runner import migrate, report, serve_live_report
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

__all__ = ["DemoReport", "live_server", "migrated_demo"]

# A quarter of the downloads answer 503 and each file gets two tries (with the tests' short
# backoff): some files need a retry, a few fail for good, quickly.
FAULTS = "bintray.download:503=0.25"


@dataclass(frozen=True, slots=True)
class DemoReport:
    """A finished demo run: its settings (the store stays) and its report files."""

    settings: Settings
    paths: ReportPaths


def migrated_demo(workdir: Path, profile: str = "demo") -> DemoReport:
    """Migrate the ``profile`` organisation (every phase) into ``workdir``; write its report."""

    async def run() -> DemoReport:
        async with Sandbox(profile, faults=FAULTS) as sandbox:
            settings = sandbox_settings(sandbox, workdir, max_attempts=2, workers=8)
            await migrate(settings, bus=EventBus(), stop=StopControl())
            return DemoReport(settings, await report(settings))

    return anyio.run(run)


@contextmanager
def live_server(settings: Settings, refresh: float) -> Iterator[str]:
    """``transfer status --serve 127.0.0.1:0`` in a thread; yields the page's URL."""
    ready = threading.Event()
    stop = threading.Event()
    urls: list[str] = []
    errors: list[BaseException] = []

    def announce(url: str) -> None:
        urls.append(url)
        ready.set()

    async def serve() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: serve_live_report(
                    settings, "127.0.0.1", 0, refresh=refresh, on_ready=announce
                )
            )
            await anyio.to_thread.run_sync(stop.wait)
            group.cancel_scope.cancel()

    def thread() -> None:
        try:
            anyio.run(serve)
        except BaseException as error:  # handed to the test below
            errors.append(error)
            ready.set()

    worker = threading.Thread(target=thread, name="live-report", daemon=True)
    worker.start()
    try:
        assert ready.wait(60), "the live report server did not start"
        assert not errors, errors
        yield urls[0]
    finally:
        stop.set()
        worker.join(30)
    assert not errors, errors
