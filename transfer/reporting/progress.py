"""Progress on a terminal (rich live bars) or as plain periodic lines (edge module).

Both poll :class:`~transfer.reporting.events.ProgressCounters`; the engine never waits on them.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from transfer.models import ItemState
from transfer.reporting.causes import CauseTally, cause_of, concise_reason, describe
from transfer.reporting.events import (
    Event,
    EventBus,
    ItemFinished,
    ProgressCounters,
    ProgressSnapshot,
)
from transfer.reporting.report_markdown import duration_words, format_bytes

__all__ = [
    "FailureCauses",
    "RepoTally",
    "format_bytes",
    "format_line",
    "format_rate",
    "listing_words",
    "show_progress",
    "side_phase_words",
]


_FILE_PHASES = ("", "artifacts", "plan")


def format_rate(bytes_per_second: float) -> str:
    """A rate in the units caps are written in (``--bandwidth 50MB/s``: powers of 1000)."""
    for unit in ("B/s", "kB/s", "MB/s", "GB/s"):
        if abs(bytes_per_second) < 1000 or unit == "GB/s":
            return (
                f"{bytes_per_second:.0f} {unit}"
                if unit == "B/s"
                else (f"{bytes_per_second:.1f} {unit}")
            )
        bytes_per_second /= 1000
    return f"{bytes_per_second:.1f} GB/s"


def side_phase_words(snap: ProgressSnapshot) -> str:
    """``12/32 users, groups, permission targets and access keys`` (a side phase's counts)."""
    if not (snap.phase_done or snap.phase_total):
        return "starting"
    total = f"/{snap.phase_total}" if snap.phase_total else ""
    what = f" {snap.phase_what}" if snap.phase_what else ""
    return f"{snap.phase_done}{total}{what}"


def listing_words(snap: ProgressSnapshot) -> str:
    """``listing: 1200 files so far (3.4 GiB)`` while the source is still being listed."""
    found = snap.discovered
    return f"listing: {found.files} files so far ({format_bytes(found.bytes)})"


def format_line(snap: ProgressSnapshot, *, files_only: bool = False) -> str:
    """One plain progress line: a side phase's name and counts (unless ``files_only``); while
    the listing grows, how much is listed (no total, no percentage); then files and bytes
    against their totals."""
    if snap.phase not in _FILE_PHASES and not files_only:
        return f"[{snap.phase}] {side_phase_words(snap)}"
    rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
    failed = snap.by_state.get("failed", 0)
    if snap.listing_complete:
        files = (
            f"files {snap.files_done}/{snap.files_total}  "
            f"bytes {format_bytes(snap.bytes_done)}/{format_bytes(snap.bytes_total)}"
        )
    else:
        files = f"{listing_words(snap)}, {snap.files_done} files done"
    return (
        f"[{'finished' if files_only else snap.phase or 'starting'}] {files}  "
        f"moved {format_bytes(snap.bytes_moved)} at {format_rate(rate)}  "
        f"active {snap.active}  retries {snap.retries}  failed {failed}"
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


class FailureCauses:
    """Failed files on the terminal: one warning the first time a cause appears (with one
    example), and a count per cause at the end — never a line per file."""

    def __init__(self, services: Mapping[str, str], out: TextIO | None = None) -> None:
        self._services = services
        self._out = out
        self.tally = CauseTally()

    def __call__(self, event: Event) -> None:
        if not isinstance(event, ItemFinished) or event.state is not ItemState.FAILED:
            return
        cause = cause_of(event.error, None, self._services)
        first = cause not in self.tally.counts
        self.tally.add(cause, f"{event.repo}/{event.path}")
        if first:
            reason = concise_reason(event.error, self._services, f"{event.repo}/{event.path}")
            print(
                f"transfer: warning: files are failing: {cause} "
                f"(first: {event.repo}/{event.path}: {reason}; the report lists every file)",
                file=self._out or sys.stderr,
                flush=True,
            )

    def summary(self) -> list[str]:
        """``"failed: 192 files: HTTP 401 from the download host"`` per cause."""
        return [f"failed: {describe(n, cause)}" for n, cause, _ in self.tally.most_common()]


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
        print(format_line(bus.counters.snapshot(), files_only=True), file=out, flush=True)


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
        if snap.phase not in _FILE_PHASES:  # a side phase: its name and its own counts
            bars.update(
                files,
                description=snap.phase,
                total=snap.phase_total or None,
                completed=snap.phase_done,
                detail=side_phase_words(snap),
            )
            bars.update(size, visible=False)
            return Group(bars, _repo_table(tally))
        rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
        left = max(0, snap.bytes_total - snap.bytes_done)
        failed = snap.by_state.get("failed", 0)
        listing = not snap.listing_complete
        # while the listing grows, totals are not totals: no percentage, no ETA
        eta = f"ETA {duration_words(left / rate)}" if rate > 0 and left and not listing else ""
        counted = (
            f"{snap.files_done} done, {listing_words(snap)}"
            if listing
            else (f"{snap.files_done}/{snap.files_total}")
        )
        bars.update(
            files,
            description="files",
            total=None if listing else snap.files_total or None,
            completed=snap.files_done,
            detail=f"{counted}  active {snap.active}  retries {snap.retries}  failed {failed}",
        )
        shown = format_bytes(snap.bytes_done) + (
            "" if listing else f"/{format_bytes(snap.bytes_total)}"
        )
        bars.update(
            size,
            visible=True,
            total=None if listing else snap.bytes_total or None,
            completed=snap.bytes_done,
            detail=f"{shown}  {format_rate(rate)}  {eta}",
        )
        return Group(bars, _repo_table(tally))

    with Live(update(), console=console, refresh_per_second=4) as display:
        try:
            while True:
                await anyio.sleep(0.25)
                display.update(update())
        finally:
            display.update(update())
