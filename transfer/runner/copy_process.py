"""One copy process of a ``migrate`` with ``transfer.processes`` > 1 (started by
:mod:`transfer.runner.copy_processes`, never by hand): ``python -m transfer.runner.copy_process``.

It reads its :class:`~transfer.runner.copy_processes.CopyJob` from stdin, then copies its share
of the run's files with the same engine and copy worker as ``migrate`` until nothing is left
anywhere in the run, or until told to stop. Later lines on stdin are the parent's: the source
is listed (``discovered``), ``stop``, ``stop-now``; stdin closing means the parent is gone,
and it stops softly. SIGINT and SIGTERM sent to it directly stop it as they stop ``migrate``.

Exit codes are ``migrate``'s: 0 when nothing was left, 3 when a service failed every call,
4 when stopped, 2 for a store or configuration error. Failed files are in the store, where the
parent's summary counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import signal
import sys

import anyio

from transfer.checkpoint.base import Share
from transfer.errors import (
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_STOPPED,
    EXIT_USAGE,
    TransferError,
    first_transfer_error,
)
from transfer.pipeline.engine import StopControl, run_artifacts
from transfer.reporting.events import EventBus
from transfer.reporting.logsetup import configure_logging, event_logger, shutdown_logging
from transfer.runner.copy_processes import (
    CONTROL_DISCOVERED,
    CONTROL_STOP,
    CONTROL_STOP_NOW,
    PROGRESS_INTERVAL,
    CopyJob,
)
from transfer.runner.copying import (
    BusObserver,
    build_copy_worker,
    engine_options,
    service_breaker,
)
from transfer.runner.event_loop import run_main
from transfer.runner.wiring import _opened, worker_id

__all__ = ["main", "read_job"]


def read_job(fd: int = 0) -> CopyJob:
    """The job the parent wrote first on ``fd``, read without buffering beyond it (the lines
    after it are read by the event loop)."""
    size = int.from_bytes(_read_exactly(fd, 8), "big")
    job = pickle.loads(_read_exactly(fd, size))
    if not isinstance(job, CopyJob):
        raise TypeError(f"expected a CopyJob on stdin, got {type(job).__name__}")
    return job


def _read_exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = os.read(fd, left)
        if not part:
            raise EOFError("stdin closed before the job was read")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


async def _obey(stop: StopControl, discovered: anyio.Event) -> None:
    """Follow the parent's lines on stdin until it closes (the parent is gone: stop)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
    )
    while line := await reader.readline():
        if line == CONTROL_DISCOVERED:
            discovered.set()
        elif line == CONTROL_STOP:
            stop.request("migrate asked its copy processes to stop")
        elif line == CONTROL_STOP_NOW:
            stop.request("migrate asked its copy processes to stop now", hard=True)
    stop.request("migrate, which started this copy process, is gone")
    discovered.set()


async def _report(observer: BusObserver) -> None:
    """Tell migrate what this process has done, a few times a second while it changes; once
    more at the end (cancelled: the last line is written as the task ends)."""
    said: dict[str, int] = {}
    try:
        while True:
            said = _say(observer, said)
            await anyio.sleep(PROGRESS_INTERVAL)
    finally:
        _say(observer, said)


def _say(observer: BusObserver, said: dict[str, int]) -> dict[str, int]:
    now = observer.progress()
    if now != said:
        with contextlib.suppress(BrokenPipeError):  # migrate is gone: stdin tells us too
            os.write(1, json.dumps(now).encode() + b"\n")
    return now


async def _signals(stop: StopControl) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            stop.signalled(signal.Signals(signum).name)


async def copy_share(job: CopyJob) -> int:
    """Copy ``job``'s share of the run; returns the exit code."""
    settings = job.settings
    stop = StopControl()
    discovered = anyio.Event()
    owner = worker_id()
    # while migrate lists the source it copies nothing: the copy processes share all of it
    listing_share = Share(job.share.index - 1, job.share.of - 1)
    async with anyio.create_task_group() as group:
        group.start_soon(_obey, stop, discovered)
        group.start_soon(_signals, stop)
        breaker = service_breaker(settings, stop)
        async with _opened(settings) as (source, target, store):
            bus = EventBus()
            bus.subscribe(event_logger())  # failed files on stderr; every file in --log-json
            observer = BusObserver(bus, owner, parent=job.parent)
            worker, copies = await build_copy_worker(
                settings, source, target, store, observer=observer, breaker=breaker
            )
            group.start_soon(_report, observer)
            await run_artifacts(
                store=store,
                worker=worker,
                options=engine_options(settings.transfer, owner, copy_process=True),
                observer=observer,
                stop=stop,
                discovery=discovered.wait,
                bytes_moved=lambda: bus.counters.bytes_moved,
                copies=copies,
                share=lambda: job.share if discovered.is_set() else listing_share,
            )
            await store.heartbeat_worker(owner, {**observer.heartbeat_stats(), "finished": True})
        group.cancel_scope.cancel()
    if breaker.tripped is not None:
        return EXIT_SERVICE
    return EXIT_STOPPED if stop.requested() else EXIT_OK


def main() -> int:
    """Read the job, copy, and return the exit code; a failure is one line on stderr."""
    try:
        job = read_job()
    except (EOFError, pickle.UnpicklingError, TypeError) as error:
        print(f"transfer: copy process: no job from migrate on stdin ({error})", file=sys.stderr)
        return EXIT_USAGE
    name = f"copy process {job.share.index}"
    settings = job.settings
    configure_logging(
        level=settings.logging.level,
        json_file=settings.logging.json_file,
        console=True,
        secrets=settings.secrets(),
    )
    try:
        try:
            return run_main(lambda: copy_share(job))
        except BaseExceptionGroup as group:
            raise first_transfer_error(group) from None
    except TransferError as error:
        print(f"transfer: {name}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_STOPPED
    except Exception as error:  # a bug: one line here, the parent takes over this share
        print(f"transfer: {name}: failed: {error!r}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        shutdown_logging()


if __name__ == "__main__":
    raise SystemExit(main())
