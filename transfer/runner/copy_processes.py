"""Copy processes beside ``migrate`` (``transfer.processes``): more than one core copying.

One process copies large files at about one core's worth (hashing, socket work and Python
per piece), and small files across a WAN at 600-700 a second (a few requests each, and the
listing beside them); a machine with more cores and a faster link than that is left idle.
With ``transfer.processes = N`` the artifacts phase starts ``N - 1`` copy processes
(:mod:`transfer.runner.copy_process`) beside itself.

With ``"auto"`` (the default) it starts none, and watches how busy its own event loop is
(the CPU time of its thread, once a second) and how much of the machine stands idle. Once the
loop has been busy for :data:`AUTO_BUSY_SECONDS` in a row while at least
:data:`AUTO_SPARE_CORES` of the machine's cores stood idle, with files waiting in the store
that nobody has claimed, room for both processes' buffers in a quarter of its memory
(:meth:`~transfer.settings.TransferSettings.room_for_auto_processes`) and no bandwidth cap,
it starts one copy process, which then works as with ``processes = 2``; it stops watching.
A short run, an idle loop (files waiting on round trips, not on this process), files already
all in hand (a few large files) or a machine without a spare core never start one: it would
only cost a process start and its memory, or take its CPU from the servers beside it.

Measured on the ``wan`` benchmark (10,000 files, 100 ms per Bintray API call, both emulators
on the same 2 cores) before the spare-core rule: the copy process joined after about 3 s, and
in three back-to-back pairs the run moved 605-622 files/s against 542-577 with
``processes = 1``; but only 0.4 of a core stood idle there, too little for the rule, which
keeps that benchmark at one process.

Each copy process is a worker of the same run in the same store, as a ``migrate`` on another
machine would be, with three differences:

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
import os
import pickle
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from transfer.checkpoint.base import EVERYTHING, CheckpointStore, Share
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.redaction import Secret
from transfer.reporting.events import CopiedElsewhere, EventBus
from transfer.settings import AUTO_MAX_PROCESSES, Settings, physical_memory

__all__ = [
    "AUTO_BUSY",
    "AUTO_BUSY_SECONDS",
    "AUTO_SPARE_CORES",
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

AUTO_BUSY = 0.75
"""``"auto"``: the share of a second the event loop's thread spends on the CPU that counts as
busy. A loop that waits on round trips spends far less (a WAN copy held back by latency, not
by this process, is helped by more copies in flight, which the adaptive limit gives)."""
AUTO_BUSY_SECONDS = 2
"""``"auto"``: seconds in a row the loop must be busy (with a core spare) before a copy
process joins."""
AUTO_SPARE_CORES = 0.5
"""``"auto"``: how much of the machine's CPU must stand idle meanwhile, in cores. A second
process on a machine without it takes its CPU from whatever else runs there, the servers
themselves when they share it: 1,000,000 files between emulators on the same 2 cores (0.3 of
a core idle once this process was saturated) moved 767 files/s in one process, and 481 in two
over the first 880 s (423,000 files, when that run was stopped)."""
_AUTO_IDLE_CHECK_MAX = 60.0  # longest pause between looks at the store while none waits


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
        """How many processes copy (this one included): ``"auto"`` starts at 1."""
        self._children: list[_Child] = []
        self._discovered = False
        self._closing = False  # the block is over: no copy process joins any more
        self.notes: list[str] = []
        self.joined_after: float | None = None
        """Seconds into the run when ``"auto"`` added a copy process (``None``: it did not)."""

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

    async def _start(self, settings: Settings, processes: int, group: anyio.abc.TaskGroup) -> None:
        """Start copy processes until ``processes`` copy (this one included), with their
        listeners in ``group``. Each is told the count it is one of, and that the source is
        listed if it is by now."""
        settings = replace(settings, transfer=replace(settings.transfer, processes=processes))
        self.processes = processes
        for index in range(1, processes):
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
                if self._discovered:
                    await process.stdin.send(CONTROL_DISCOVERED)
            group.start_soon(self._listen, child)
            group.start_soon(self._watch, child)

    async def _join_when_busy(
        self, settings: Settings, group: anyio.abc.TaskGroup, stop: StopControl
    ) -> None:
        """``"auto"``: start a copy process once this process's event loop has been busy for
        :data:`AUTO_BUSY_SECONDS` with files waiting unclaimed (see the module's docstring)."""
        busy_for, checked_after, pause = 0, 0.0, 1.0
        clock, cpu = time.monotonic, time.thread_time  # this task runs on the loop's thread
        last_wall, last_cpu = clock(), cpu()
        idle = _IdleCores()
        while True:
            await anyio.sleep(1.0)
            wall, used = clock(), cpu()
            busy = (used - last_cpu) / max(wall - last_wall, 1e-3)
            last_wall, last_cpu = wall, used
            spare = idle.since_last()
            if busy >= AUTO_BUSY and (spare is None or spare >= AUTO_SPARE_CORES):
                busy_for += 1
            else:
                busy_for = 0
            if self._closing or stop.soft.is_set():
                return
            if busy_for < AUTO_BUSY_SECONDS or wall < checked_after:
                continue
            waiting = (await self._store.counts())[ItemState.PENDING].items
            if waiting < settings.transfer.claim_batch:
                # the files are in hand (a few large ones) or listing trickles: look again later
                checked_after, pause = wall + pause, min(2 * pause, _AUTO_IDLE_CHECK_MAX)
                continue
            if self._closing or stop.soft.is_set():
                return
            await self._start(settings, AUTO_MAX_PROCESSES, group)
            if stop.soft.is_set():  # asked to stop while it started: it was not told yet
                await self._tell(CONTROL_STOP)
            after = self.joined_after = self._bus.counters.snapshot().elapsed
            self.notes.append(
                f"processes: a copy process joined after {after:.1f} s (this process's event "
                f"loop was {busy:.0%} busy, {waiting} files waiting)"
            )
            return

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
        """``child``'s worker name in the store (``None`` before its first heartbeat, which
        the engine writes before its first claim: a child without one holds no lease)."""
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


class _IdleCores:
    """How many of the machine's cores stood idle since the last call (Linux: ``/proc/stat``;
    ``None`` where it cannot be read, which does not hold ``"auto"`` back)."""

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                fields = stat.readline().split()
        except OSError:
            return None
        if len(fields) < 6 or fields[0] != "cpu":
            return None
        return time.monotonic(), int(fields[4]) + int(fields[5])  # idle + iowait

    def since_last(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] <= last[0]:
            return None
        return (now[1] - last[1]) / self._tick / (now[0] - last[0])


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _may_join(settings: Settings) -> bool:
    """Whether ``"auto"`` may add a copy process on this machine, for this run."""
    t = settings.transfer
    return (
        t.auto_processes
        and t.bandwidth_limit is None
        and usable_cpus() > 1
        and t.room_for_auto_processes(physical_memory())
    )


@asynccontextmanager
async def copy_processes(
    settings: Settings, store: CheckpointStore, bus: EventBus, stop: StopControl, *, owner: str
) -> AsyncIterator[CopyProcesses]:
    """Start ``transfer.processes - 1`` copy processes for the block (none for 1; for
    ``"auto"``, one once this process is saturated); on leaving it, wait for them to finish
    (they end when nothing is left, or when stopped)."""
    fixed = settings.transfer.processes
    processes = CopyProcesses(store, bus, max(fixed, 1), owner=owner)
    if fixed == 1 or (settings.transfer.auto_processes and not _may_join(settings)):
        yield processes
        return
    async with anyio.create_task_group() as group:
        try:
            if settings.transfer.auto_processes:
                group.start_soon(processes._join_when_busy, settings, group, stop)
            else:
                await processes._start(settings, fixed, group)
            group.start_soon(processes._pass_stops, stop)
            yield processes
        except BaseException:
            processes._closing = True
            with anyio.CancelScope(shield=True):
                await processes._tell(CONTROL_STOP_NOW)
                await processes._wait_all()
            raise
        finally:
            processes._closing = True
            with anyio.CancelScope(shield=True):
                # nothing is left anywhere, or they were told to stop: they end by themselves
                await processes._wait_all()
                for child in processes._children:
                    if child.process.stdin is not None:
                        await child.process.stdin.aclose()
                    await processes._ended(child)
            group.cancel_scope.cancel()
