"""Copy processes beside ``migrate`` (``transfer.processes``): more than one core copying.

One process copies large files at about one core's worth (hashing, socket work and Python
per piece); a machine with more cores and a faster link than that is left idle. With
``transfer.processes = N`` the artifacts phase starts ``N - 1`` copy processes
(:mod:`transfer.runner.copy_process`) beside itself. Each is a worker of the same run in the
same store, as a ``migrate`` on another machine would be, with three differences:

* **Shares.** Process ``i`` claims the pending items whose id is ``i`` modulo ``N``
  (:class:`~transfer.checkpoint.base.Share`); this one takes share 0. Without shares the first
  process up would lease every large file before the others had started. While this process
  lists the source it copies nothing, and copy process ``i`` takes share ``i - 1`` of ``N - 1``
  instead: listing a large source is this process's whole event loop's work (at 100 ms per
  Bintray API call, 10,000 small files: discovery done at 13.4 s while it also copied).
* **One discoverer.** Only this process lists the source; the others copy what it writes into
  the store and learn from it (a ``discovered`` line on their stdin) that the listing is done.
* **One owner of stops and exits.** They start in their own session, so a Ctrl-C reaches this
  process alone, which passes it on (``stop``, then ``stop-now``) and waits for them. A
  process that ends early for any reason has its leases expired at once, and this process
  takes over its share; one whose parent dies sees its stdin close and stops softly.

Their progress (files finished, bytes moved) comes back as a JSON line on their stdout a few
times a second and goes onto this process's bus (:class:`~transfer.reporting.events.
CopiedElsewhere`): the progress line counts it, and ``max_transfer`` holds for the run's bytes
together, which this process alone enforces. The run's counts are the store's anyway.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from transfer.checkpoint.base import EVERYTHING, CheckpointStore, Share
from transfer.pipeline.engine import StopControl
from transfer.redaction import Secret
from transfer.reporting.events import CopiedElsewhere, EventBus
from transfer.settings import Settings

__all__ = [
    "CONTROL_DISCOVERED",
    "CONTROL_STOP",
    "CONTROL_STOP_NOW",
    "CopyJob",
    "CopyProcesses",
    "copy_processes",
    "encode_job",
]

CONTROL_DISCOVERED = b"discovered\n"
"""The parent's listing of the source is complete."""
CONTROL_STOP = b"stop\n"
"""Finish the files in hand, then exit."""
CONTROL_STOP_NOW = b"stop-now\n"
"""Cancel the copies in hand (their outcomes are recorded) and exit."""

PROGRESS_INTERVAL = 0.25
"""Seconds between a copy process's progress lines (when it has moved anything)."""
_PROGRESS_LINE_LIMIT = 4096  # bytes: a progress line is a few dozen
_EXIT_GRACE = 60.0  # seconds a copy process gets to exit once asked to stop now
_CLEAN_EXITS = (0, 1, 4)  # done; done with failures (in the store); stopped when asked


@dataclass(frozen=True, slots=True)
class CopyJob:
    """What a copy process is told on its stdin when it starts."""

    settings: Settings
    share: Share
    parent: str = ""
    """The worker name of the ``migrate`` that started it (in its heartbeat, so that the
    parent does not count its own copy processes as other workers of the run)."""


class _PipePickler(pickle.Pickler):
    """Pickles :class:`~transfer.redaction.Secret` values, which refuse it everywhere else:
    only for the pipe to a copy process of this same program."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Secret):
            return Secret, (obj.reveal(),)
        return NotImplemented


def encode_job(job: CopyJob) -> bytes:
    """``job`` as it crosses the pipe: an 8-byte length, then the pickle. The settings hold
    the run's secrets, which is why they travel over a pipe and never on a command line."""
    buffer = io.BytesIO()
    _PipePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(job)
    body = buffer.getvalue()
    return len(body).to_bytes(8, "big") + body


@dataclass(slots=True)
class _Child:
    share: Share
    process: anyio.abc.Process
    reported: dict[str, int] = field(default_factory=dict)  # progress folded in so far
    heard: anyio.Event = field(default_factory=anyio.Event)  # its stdout has closed
    ending: bool = False  # its exit is being handled
    ended: anyio.Event = field(default_factory=anyio.Event)  # ... and has been


class CopyProcesses:
    """The copy processes of one ``migrate``; :meth:`share` is the one this process claims."""

    def __init__(
        self, store: CheckpointStore, bus: EventBus, processes: int, *, owner: str
    ) -> None:
        self._store = store
        self._bus = bus
        self._owner = owner
        self.processes = processes
        self._children: list[_Child] = []
        self._discovered = False
        self.notes: list[str] = []

    def share(self) -> Share | None:
        """What this process claims: nothing while it lists the source (the copy processes
        share the files between them meanwhile, and its event loop lists at full speed),
        share 0 once it has, and everything once a copy process has ended, so that what that
        one left is copied here."""
        if self.processes == 1 or any(c.process.returncode is not None for c in self._children):
            return EVERYTHING
        if not self._discovered:
            return None
        return Share(0, self.processes)

    async def discovered(self) -> None:
        """Tell every copy process that the source is listed."""
        self._discovered = True
        await self._tell(CONTROL_DISCOVERED)

    async def _tell(self, line: bytes) -> None:
        for child in self._children:
            if child.process.returncode is None and child.process.stdin is not None:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await child.process.stdin.send(line)

    async def _start(self, settings: Settings) -> None:
        for index in range(1, self.processes):
            process = await anyio.open_process(
                [sys.executable, "-m", "transfer.runner.copy_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,  # its progress lines
                stderr=None,  # its warnings and errors reach the user's terminal as ours do
                start_new_session=True,  # a Ctrl-C is ours to pass on, once
            )
            child = _Child(Share(index, self.processes), process)
            self._children.append(child)
            assert process.stdin is not None
            with suppress(anyio.BrokenResourceError):
                await process.stdin.send(
                    encode_job(CopyJob(settings, child.share, parent=self._owner))
                )

    async def _watch(self, child: _Child) -> None:
        await child.process.wait()
        await self._ended(child)

    async def _listen(self, child: _Child) -> None:
        """Fold ``child``'s progress lines into this process's progress, up to its last."""
        assert child.process.stdout is not None
        lines = BufferedByteReceiveStream(child.process.stdout)
        try:
            while True:
                try:
                    line = await lines.receive_until(b"\n", _PROGRESS_LINE_LIMIT)
                except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError):
                    return
                except anyio.DelimiterNotFound:
                    # not a progress line: read on to its end, or it would block writing
                    async for _ in child.process.stdout:
                        pass
                    return
                self._fold(child, line)
        finally:
            child.heard.set()

    async def _ended(self, child: _Child) -> None:
        """Once ``child`` has exited: its last figures, and its leases expired (it is gone:
        what it held is anyone's now); an exit other than done or stopped is noted. Once:
        a second caller waits for the first to be through."""
        code = child.process.returncode
        if child.ending:
            await child.ended.wait()
            return
        child.ending = True
        try:
            with anyio.move_on_after(_EXIT_GRACE):  # its last progress line is in
                await child.heard.wait()
            expired = await self._expire(child)
        finally:
            child.ended.set()
        if code not in _CLEAN_EXITS:
            self.notes.append(
                f"copy process {child.share.index} ended with exit code {code}; this one "
                f"copies its share ({expired} files it held go back to the run)"
            )

    async def _expire(self, child: _Child) -> int:
        owner = await self._owner_of(child)
        return 0 if owner is None else await self._store.expire_leases(owner)

    async def _owner_of(self, child: _Child) -> str | None:
        """``child``'s worker name in the store (``None`` before its first heartbeat)."""
        found = None
        for worker in await self._store.list_workers():
            # an earlier run's worker may have had the same pid
            ours = worker.stats.get("parent") == self._owner
            if ours and worker.stats.get("pid") == child.process.pid:
                found = worker.owner
        return found

    def _fold(self, child: _Child, line: bytes) -> None:
        """Add what ``child`` did since its last line to this process's progress."""
        try:
            said = json.loads(line)
            now = {k: int(said[k]) for k in ("files", "bytes", "moved")}
        except (ValueError, KeyError, TypeError):
            return
        delta = {k: v - child.reported.get(k, 0) for k, v in now.items()}
        child.reported = now
        if any(delta.values()):
            self._bus.emit(
                CopiedElsewhere(
                    files=delta["files"],
                    bytes=delta["bytes"],
                    moved=delta["moved"],
                    process=child.share.index,
                )
            )

    async def _pass_stops(self, stop: StopControl) -> None:
        await stop.soft.wait()
        await self._tell(CONTROL_STOP)
        await stop.hard.wait()
        await self._tell(CONTROL_STOP_NOW)

    async def _wait_all(self) -> None:
        with anyio.move_on_after(_EXIT_GRACE) as waited:
            for child in self._children:
                await child.process.wait()
        if waited.cancelled_caught:  # asked to stop now and still there: end it
            for child in self._children:
                if child.process.returncode is None:
                    child.process.kill()
            for child in self._children:
                await child.process.wait()

    def copied_by_each(self) -> str:
        """How many files each copy process finished, for the run's notes."""
        each = ", ".join(str(c.reported.get("files", 0)) for c in self._children)
        return f"copy processes: {self.processes} (files finished by the others: {each})"


@asynccontextmanager
async def copy_processes(
    settings: Settings, store: CheckpointStore, bus: EventBus, stop: StopControl, *, owner: str
) -> AsyncIterator[CopyProcesses]:
    """Start ``transfer.processes - 1`` copy processes for the block (none for 1); on leaving
    it, wait for them to finish (they end when nothing is left, or when stopped)."""
    processes = CopyProcesses(store, bus, settings.transfer.processes, owner=owner)
    if processes.processes == 1:
        yield processes
        return
    async with anyio.create_task_group() as group:
        try:
            await processes._start(settings)
            for child in processes._children:
                group.start_soon(processes._listen, child)
                group.start_soon(processes._watch, child)
            group.start_soon(processes._pass_stops, stop)
            yield processes
        except BaseException:
            with anyio.CancelScope(shield=True):
                await processes._tell(CONTROL_STOP_NOW)
                await processes._wait_all()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                # nothing is left anywhere, or they were told to stop: they end by themselves
                await processes._wait_all()
                for child in processes._children:
                    if child.process.stdin is not None:
                        await child.process.stdin.aclose()
                    await processes._ended(child)
            group.cancel_scope.cancel()
