"""Wiring of the artifacts phase: discovery, a claimer, N copy workers, a lease heartbeat.

Stages are tasks in one task group joined by a bounded stream of work items (STYLE #4, #5):

    discover ──► store ──► claimer ──(bounded stream, queue_size)──► N workers ──► store

N (``workers``) is the ceiling; how many of the N copy at once is an :class:`AdaptiveLimiter`'s
limit (:func:`copy_limiter`): a worker takes a slot before it takes an item, so items wait in the
bounded stream, never in a worker. The limit grows while whole copies of small files stay short
of queueing (at 100 ms round trips more copies in flight are what makes files/s; when the
services, or our own event loop, start to queue, more would only wait there) and only while it
is what holds copying back (no worker with a slot waits for an item: when discovery sets the
pace, more copies would only take CPU from it), and halves when a service pushes back (429/503,
reported by the copy worker for each try). The claimer keeps a batch, or twice that limit if it
is more, waiting in the stream, so a worker slowed by push-back leaves the rest of the run to the
others.

Closing the claimer's send side ends the workers; nothing else signals the end. Shutdown order:
the claimer stops claiming (a limit or a signal asked to stop), workers finish the item in their
hands (a hard stop cancels them instead), the heartbeat stops, and finally — shielded from
cancellation — every item this process still holds goes back to ``pending`` and the store is
flushed, so the next run resumes exactly there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from transfer.checkpoint.base import EVERYTHING, CheckpointStore, Outcome, Share, WorkItem
from transfer.http.pacing import AdaptiveLimiter
from transfer.models import ItemState
from transfer.pipeline.copy import CopyObserver, CopyWorker

__all__ = ["EngineObserver", "EngineOptions", "StopControl", "copy_limiter", "run_artifacts"]

COPIES_START = 8
"""Copies in flight before the services have said anything (the old fixed default)."""
_COPIES_GROW_AFTER = 4  # successful copies in a row per extra copy in flight
_COPIES_LATENCY_TOLERANCE = 2.0  # small copies this much slower than the fastest: queueing
_ROUND_TRIP_SAMPLE_MAX = 1024 * 1024  # larger files measure bandwidth, not round trips
QUEUED_PER_COPY = 2
"""Claimed items waiting in the stream per copy the limit allows (at least ``claim_batch``):
what a worker holds beyond its copies in flight, so what it keeps from the run's other workers
(and what waits for a lease to expire if it dies)."""
_FULL_QUEUE_POLL = 0.02  # seconds between looks at a queue that holds enough


def copy_limiter(ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> AdaptiveLimiter:
    """The adaptive limit of copies in flight, up to ``ceiling`` (``transfer.workers``)."""
    return AdaptiveLimiter(
        max(1, ceiling),
        initial=min(COPIES_START, max(1, ceiling)),
        increase_after=_COPIES_GROW_AFTER,
        latency_tolerance=_COPIES_LATENCY_TOLERANCE,
        slow_start=True,
        clock=clock,
    )


def round_trip_sample(outcome: Outcome, seconds: float) -> float | None:
    """``seconds`` when the copy measured round trips (a small file streamed at the first
    try: download, redirect, deploy), else ``None``: a checksum deploy is one round trip, a
    large file's time is its bytes', a retried one's its backoff's."""
    small = (outcome.bytes_transferred or 0) <= _ROUND_TRIP_SAMPLE_MAX
    if outcome.how == "streamed" and outcome.add_attempts <= 1 and small:
        return seconds
    return None


class EngineObserver(CopyObserver, Protocol):
    """A copy observer that also hears about finished items and discovery."""

    def item_started(self, item: WorkItem) -> None:
        """A worker starts copying ``item``."""

    def item_finished(self, item: WorkItem, outcome: Outcome) -> None:
        """``item`` ended with ``outcome`` (already handed to the store)."""

    def heartbeat_stats(self) -> dict[str, float | int | str]:
        """Statistics this worker publishes in the store for ``transfer status``."""
        ...


class StopControl:
    """Asks a run to stop: softly (finish what is in hand) or hard (cancel it)."""

    def __init__(self) -> None:
        self.soft = anyio.Event()
        self.hard = anyio.Event()
        self.reason = ""

    def requested(self) -> bool:
        """Whether any stop was asked for."""
        return self.soft.is_set()

    def request(self, reason: str, *, hard: bool = False) -> None:
        """Ask for a stop; the first reason given is kept."""
        if not self.reason:
            self.reason = reason
        self.soft.set()
        if hard:
            self.hard.set()

    def signalled(self, name: str) -> bool:
        """A SIGINT or SIGTERM (``name``): the first stops softly, the next one at once.
        Returns whether this one stops at once."""
        hard = self.requested()
        self.request(f"{name} received", hard=hard)
        return hard


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Sizes and limits of the artifacts phase; ``workers`` is the ceiling of copies at once."""

    owner: str
    workers: int = 8
    queue_size: int = 16
    claim_batch: int = 64
    lease_seconds: float = 300.0
    poll_interval: float = 0.5
    max_transfer: int | None = None
    max_duration: float | None = None
    stop_grace: float = 30.0
    stats_interval: float = 2.0  # seconds between this worker's figures in the store


async def run_artifacts(
    *,
    store: CheckpointStore,
    worker: CopyWorker,
    options: EngineOptions,
    observer: EngineObserver,
    stop: StopControl,
    discovery: Callable[[], Awaitable[object]] | None = None,
    bytes_moved: Callable[[], int] = lambda: 0,
    clock: Callable[[], float] = time.monotonic,
    copies: AdaptiveLimiter | None = None,
    share: Callable[[], Share | None] = lambda: EVERYTHING,
) -> None:
    """Run discovery and copying until everything claimable is done or a stop is asked.

    ``bytes_moved`` reports the bytes moved so far, for ``max_transfer``. ``copies`` limits
    the copies in flight (it hears each one's success and time; the copy worker tells it of
    push-back); without it all ``workers`` copy at once. ``share`` says, at each claim, which
    pending items this process takes (one copy process of several takes its own share), or
    ``None``: none for now; either way it runs until nothing is left anywhere in the run.
    """
    limiter = copies or AdaptiveLimiter(max(1, options.workers))
    discovery_done = anyio.Event()
    holding = 0  # items this process claimed and has not recorded yet
    started = clock()

    async def run_discovery() -> None:
        try:
            if discovery is not None:
                await discovery()
        finally:
            discovery_done.set()

    async def nothing_left_anywhere() -> bool:
        return not await store.outstanding(options.owner)

    def room(send: MemoryObjectSendStream[WorkItem]) -> int:
        """How many items to claim now: enough for a batch, or twice the copies the limit
        allows if that is more, to wait in the stream; at most a batch at once. Filling the
        whole stream instead would hoard, once a service's push-back has lowered the limit,
        files the run's other workers could copy (one worker of two held all of a 300-file
        run while the other idled)."""
        queued = send.statistics().current_buffer_used
        wanted = max(options.claim_batch, QUEUED_PER_COPY * limiter.limit)
        return min(options.claim_batch, wanted - queued)

    async def claimer(send: MemoryObjectSendStream[WorkItem]) -> None:
        nonlocal holding
        idle = 0.01  # polls start fast (discovery is usually just ahead) and back off
        async with send:
            while not stop.requested():
                wanted = room(send)
                mine = share()
                if wanted <= 0 or mine is None:
                    with anyio.move_on_after(_FULL_QUEUE_POLL):
                        await stop.soft.wait()
                    continue
                batch = await store.claim_batch(
                    options.owner, wanted, options.lease_seconds, share=mine
                )
                if not batch:
                    if discovery_done.is_set() and await nothing_left_anywhere():
                        return
                    with anyio.move_on_after(idle):
                        await stop.soft.wait()
                    idle = min(idle * 2, options.poll_interval)
                    continue
                idle = 0.01
                holding += len(batch)
                for item in batch:
                    if stop.requested():
                        return
                    await send.send(item)

    async def copy_worker(receive: MemoryObjectReceiveStream[WorkItem]) -> None:
        nonlocal holding
        async with receive:
            while True:
                async with limiter.slot():
                    try:
                        item = await receive.receive()
                    except anyio.EndOfStream:
                        return
                    if stop.requested():
                        continue  # claimed but not started: released to pending at the end
                    observer.item_started(item)
                    began = clock()
                    outcome = await worker.copy(item)
                    if outcome.state in (ItemState.DONE, ItemState.SKIPPED, ItemState.CONFLICT):
                        # a worker holding a slot while it waits for an item: the limit is
                        # not what holds copying back (discovery is), so it does not grow
                        limiter.on_success(
                            round_trip_sample(outcome, clock() - began),
                            limited=receive.statistics().tasks_waiting_receive == 0,
                        )
                with anyio.CancelScope(shield=True):
                    await store.record(item.id, outcome, owner=options.owner)
                holding -= 1
                observer.item_finished(item, outcome)

    async def heartbeat() -> None:
        # Leases are renewed every lease/3; this worker's figures reach the store every few
        # seconds, so `transfer status` from another terminal is right within seconds.
        renew_every = max(0.5, options.lease_seconds / 3)
        renewed = -renew_every
        while True:
            if clock() - renewed >= renew_every:
                await store.renew_leases(options.owner, options.lease_seconds)
                renewed = clock()
            await store.heartbeat_worker(options.owner, observer.heartbeat_stats())
            with anyio.move_on_after(min(renew_every, options.stats_interval)):
                await stop.hard.wait()

    async def limits() -> None:
        while not stop.requested():
            if options.max_duration is not None and clock() - started >= options.max_duration:
                stop.request(f"--max-duration ({options.max_duration:g}s) reached")
            if options.max_transfer is not None and bytes_moved() >= options.max_transfer:
                stop.request(f"--max-transfer ({options.max_transfer} bytes) reached")
            with anyio.move_on_after(0.2):
                await stop.soft.wait()

    async def hard_stop(scope: anyio.CancelScope) -> None:
        await stop.soft.wait()
        with anyio.move_on_after(options.stop_grace):
            await stop.hard.wait()
        scope.cancel()

    # Known by name before the first claim: `migrate` finds a copy process's leases by this
    # name when it dies (the next run's reaper reads the leases' owners themselves).
    await store.heartbeat_worker(options.owner, observer.heartbeat_stats())
    try:
        async with anyio.create_task_group() as outer:
            outer.start_soon(run_discovery)
            outer.start_soon(heartbeat)
            outer.start_soon(limits)
            outer.start_soon(hard_stop, outer.cancel_scope)
            async with anyio.create_task_group() as pipeline:
                send, receive = anyio.create_memory_object_stream[WorkItem](options.queue_size)
                pipeline.start_soon(claimer, send)
                async with receive:
                    for _ in range(max(1, options.workers)):
                        pipeline.start_soon(copy_worker, receive.clone())
            if stop.requested():
                outer.cancel_scope.cancel()
            else:
                # Everything is copied; let discovery finish its bookkeeping, then stop.
                await discovery_done.wait()
                outer.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await store.release(options.owner)
            await store.flush()
