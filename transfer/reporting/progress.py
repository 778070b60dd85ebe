"""Progress on a terminal (rich live bars) or as plain periodic lines (edge module).

Both poll :class:`~transfer.reporting.events.ProgressCounters`; the engine never waits on them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from transfer.reporting.events import ProgressCounters, ProgressSnapshot

__all__ = ["format_bytes", "format_line", "show_progress"]


def format_bytes(n: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_line(snap: ProgressSnapshot) -> str:
    """One plain progress line."""
    rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
    failed = snap.by_state.get("failed", 0)
    return (
        f"[{snap.phase or 'starting'}] files {snap.files_done}/{snap.files_total}  "
        f"bytes {format_bytes(snap.bytes_done)}/{format_bytes(snap.bytes_total)}  "
        f"moved {format_bytes(snap.bytes_moved)} at {format_bytes(rate)}/s  "
        f"active {snap.active}  retries {snap.retries}  failed {failed}"
    )


@asynccontextmanager
async def show_progress(
    counters: ProgressCounters,
    *,
    live: bool | None = None,
    stream: TextIO | None = None,
    interval: float = 10.0,
) -> AsyncIterator[None]:
    """Render ``counters`` while the block runs: live bars on a terminal, else a line every
    ``interval`` seconds (and one at the end)."""
    out = stream or sys.stderr
    live = out.isatty() if live is None else live
    async with anyio.create_task_group() as group:
        if live:
            group.start_soon(_live, counters, out)
        else:
            group.start_soon(_plain, counters, out, interval)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
    if not live:
        print(format_line(counters.snapshot()), file=out, flush=True)


async def _plain(counters: ProgressCounters, out: TextIO, interval: float) -> None:
    last = time.monotonic()
    while True:
        await anyio.sleep(min(1.0, interval))
        if time.monotonic() - last >= interval:
            last = time.monotonic()
            print(format_line(counters.snapshot()), file=out, flush=True)


async def _live(counters: ProgressCounters, out: TextIO) -> None:
    console = Console(file=out)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
    )
    with Progress(
        *columns,
        MofNCompleteColumn(),
        TextColumn("{task.fields[extra]}"),
        console=console,
        transient=False,
    ) as files_bar, Progress(
        *columns, DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(), console=console
    ) as bytes_bar:
        files = files_bar.add_task("files", total=None, extra="")
        size = bytes_bar.add_task("bytes", total=None)
        try:
            while True:
                snap = counters.snapshot()
                failed = snap.by_state.get("failed", 0)
                extra = f"active {snap.active}  retries {snap.retries}  failed {failed}"
                files_bar.update(
                    files, total=snap.files_total or None, completed=snap.files_done, extra=extra
                )
                bytes_bar.update(size, total=snap.bytes_total or None, completed=snap.bytes_done)
                await anyio.sleep(0.25)
        finally:
            snap = counters.snapshot()
            files_bar.update(files, total=snap.files_total, completed=snap.files_done)
            bytes_bar.update(size, total=snap.bytes_total, completed=snap.bytes_done)
