"""Progress on a terminal (rich live bars) or as plain periodic lines (edge module).

Both poll :class:`~transfer.reporting.events.ProgressCounters`; the engine never waits on them.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from transfer.models import ItemState
from transfer.reporting.events import (
    Event,
    EventBus,
    ItemFinished,
    ProgressCounters,
    ProgressSnapshot,
)

__all__ = ["RepoTally", "format_bytes", "format_line", "show_progress"]


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
        f"retries {snap.retries}  failed {failed}"
    )


class RepoTally:
    """Files finished per repository, fed by :class:`ItemFinished` events."""

    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        if isinstance(event, ItemFinished):
            if event.state is ItemState.DONE:
                self.done[event.repo] += 1
            elif event.state in (ItemState.FAILED, ItemState.CONFLICT):
                self.failed[event.repo] += 1


@asynccontextmanager
async def show_progress(
    bus: EventBus,
    *,
    live: bool | None = None,
    stream: TextIO | None = None,
    interval: float = 10.0,
) -> AsyncIterator[None]:
    """Render the bus's counters while the block runs: live bars (with per-repository counts)
    on a terminal, else a line every ``interval`` seconds (and one at the end)."""
    out = stream or sys.stderr
    live = out.isatty() if live is None else live
    tally = RepoTally()
    unsubscribe = bus.subscribe(tally, ItemFinished)
    try:
        async with anyio.create_task_group() as group:
            if live:
                group.start_soon(_live, bus.counters, tally, out)
            else:
                group.start_soon(_plain, bus.counters, out, interval)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    finally:
        unsubscribe()
    if not live and bus.counters.files_total:
        print(format_line(bus.counters.snapshot()), file=out, flush=True)


async def _plain(counters: ProgressCounters, out: TextIO, interval: float) -> None:
    last = time.monotonic()
    while True:
        await anyio.sleep(min(1.0, interval))
        if time.monotonic() - last >= interval:
            last = time.monotonic()
            print(format_line(counters.snapshot()), file=out, flush=True)


def _repo_table(tally: RepoTally, limit: int = 8) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="dim")
    table.add_column("repository")
    table.add_column("done", justify="right")
    table.add_column("failed", justify="right")
    repos = sorted(set(tally.done) | set(tally.failed), key=lambda r: -tally.done[r])
    for repo in repos[:limit]:
        table.add_row(repo, str(tally.done[repo]), str(tally.failed[repo] or ""))
    if len(repos) > limit:
        table.add_row(f"… {len(repos) - limit} more", "", "")
    return table


async def _live(counters: ProgressCounters, tally: RepoTally, out: TextIO) -> None:
    console = Console(file=out)
    bars = Progress(
        TextColumn("[bold]{task.description:>5}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
    )
    files = bars.add_task("files", total=None, detail="")
    size = bars.add_task("bytes", total=None, detail="")

    def update() -> Group:
        snap = counters.snapshot()
        rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
        left = max(0, snap.bytes_total - snap.bytes_done)
        eta = f"ETA {left / rate:.0f}s" if rate > 0 and left else ""
        failed = snap.by_state.get("failed", 0)
        bars.update(
            files,
            total=snap.files_total or None,
            completed=snap.files_done,
            detail=f"{snap.files_done}/{snap.files_total}  retries {snap.retries}  failed {failed}",
        )
        bars.update(
            size,
            total=snap.bytes_total or None,
            completed=snap.bytes_done,
            detail=f"{format_bytes(snap.bytes_done)}/{format_bytes(snap.bytes_total)}  "
            f"{format_bytes(rate)}/s  {eta}",
        )
        return Group(bars, _repo_table(tally))

    with Live(update(), console=console, refresh_per_second=4) as display:
        try:
            while True:
                await anyio.sleep(0.25)
                display.update(update())
        finally:
            display.update(update())
