"""The copying half of the artifacts phase, the same in ``migrate`` and in each of its copy
processes (``transfer.processes``): the copy worker, its engine options, and the observer that
turns its callbacks into events on the bus."""

from __future__ import annotations

import os
import random
from dataclasses import replace

from transfer.checkpoint.base import CheckpointStore, ItemSpec, Outcome, WorkItem
from transfer.http.breaker import CircuitBreaker
from transfer.http.pacing import AdaptiveLimiter
from transfer.migrate.repositories_phase import created_repositories
from transfer.pipeline.bandwidth import BandwidthLimiter
from transfer.pipeline.copy import CopyOptions, CopyWorker
from transfer.pipeline.engine import EngineOptions, StopControl, copy_limiter
from transfer.pipeline.planner import ConflictPolicy
from transfer.reporting.events import EventBus, ItemFinished, Retrying, ThrottleChanged
from transfer.runner.wiring import _retry_policy
from transfer.settings import Settings, TransferSettings
from transfer.sources.base import Source
from transfer.targets.base import Target

__all__ = ["BusObserver", "build_copy_worker", "engine_options", "per_process", "service_breaker"]


class BusObserver:
    """Turns copy-worker callbacks into events on the bus."""

    def __init__(self, bus: EventBus, owner: str, *, parent: str = "") -> None:
        self._bus = bus
        self._owner = owner
        self._parent = parent  # the migrate this copy process works for, if it is one
        self._finished = 0  # files this worker finished (its share in `status`)
        self._finished_bytes = 0
        self.copies: AdaptiveLimiter | None = None  # the limit of copies in flight, once set

    def bytes_moved(self, n: int) -> None:
        self._bus.add_bytes(n)

    def retrying(self, item: WorkItem, attempt: int, delay: float, error: Exception) -> None:
        self._bus.emit(
            Retrying(path=item.spec.path, attempt=attempt, delay=delay, reason=str(error))
        )

    def throttled(self, limit: int) -> None:
        self._bus.emit(ThrottleChanged(limit=limit))

    def item_started(self, item: WorkItem) -> None:
        self._bus.copy_started()

    def item_finished(self, item: WorkItem, outcome: Outcome) -> None:
        if outcome.state.is_final:
            self._finished += 1
            self._finished_bytes += item.spec.size
        self._bus.emit(
            ItemFinished(
                repo=item.spec.repo,
                path=item.spec.path,
                state=outcome.state,
                how=outcome.how or "",
                bytes=item.spec.size,
                duration=outcome.duration or 0.0,
                error=outcome.error or "",
            )
        )

    def progress(self) -> dict[str, int]:
        """Files and their bytes this worker finished, and the bytes it moved: what a copy
        process reports to ``migrate``."""
        moved = self._bus.counters.bytes_moved
        return {"files": self._finished, "bytes": self._finished_bytes, "moved": moved}

    def heartbeat_stats(self) -> dict[str, float | int | str]:
        snap = self._bus.counters.snapshot()
        rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
        return {
            "files_done": snap.files_done,
            "files_finished": self._finished,  # by this worker alone
            "bytes_finished": self._finished_bytes,
            "bytes_moved": snap.bytes_moved,
            "bytes_per_second": rate,
            "retries": snap.retries,
            "pid": os.getpid(),
            **({"parent": self._parent} if self._parent else {}),
            **(
                {}
                if self.copies is None
                else {
                    "copies_limit": self.copies.limit,
                    "copies_peak": self.copies.peak_in_flight,
                    "copies_throttles": self.copies.throttles,
                }
            ),
        }


def service_breaker(settings: Settings, stop: StopControl) -> CircuitBreaker:
    """The circuit breaker of one process: a service failing every call stops it softly."""
    return CircuitBreaker(
        settings.transfer.breaker_threshold,
        urls={"source": settings.source.download_url, "target": settings.target.url},
        on_trip=lambda trip: stop.request(trip.message()),
    )


def per_process(transfer: TransferSettings) -> TransferSettings:
    """``transfer`` as each of its ``processes`` copy processes applies it: the bandwidth cap
    is the whole run's, so each process gets its part of it (``"auto"`` stays at one process
    under a cap)."""
    n = transfer.processes
    if n <= 1 or transfer.bandwidth_limit is None:
        return transfer
    return replace(transfer, bandwidth_limit=transfer.bandwidth_limit // n)


_SHARED_POLL = 0.1
"""Longest idle poll of a claimer when copy processes share the run: each waits for the
others' last files, and a poll of 0.5 s made the run end up to that much after them."""


def engine_options(
    transfer: TransferSettings, owner: str, *, copy_process: bool = False
) -> EngineOptions:
    """The artifacts engine's sizes and limits for one process. ``max_transfer`` is the whole
    run's: ``migrate`` counts every process's bytes (the others' reach it in their progress
    lines) and stops them all, so a ``copy_process`` leaves it to ``migrate``."""
    t = per_process(transfer)
    return EngineOptions(
        owner=owner,
        workers=t.workers,
        queue_size=t.queue_size or 2 * t.workers,
        claim_batch=t.claim_batch,
        lease_seconds=t.lease_seconds,
        max_transfer=None if copy_process else t.max_transfer,
        max_duration=t.max_duration,
        # not for "auto", which mostly copies alone: its polls would cost the loop
        **({"poll_interval": _SHARED_POLL} if t.processes > 1 else {}),
    )


async def build_copy_worker(
    settings: Settings,
    source: Source,
    target: Target,
    store: CheckpointStore,
    *,
    observer: BusObserver,
    breaker: CircuitBreaker,
) -> tuple[CopyWorker, AdaptiveLimiter]:
    """The copy worker of one process, and its adaptive limit of copies in flight (which the
    engine needs too; the observer reports it)."""
    # repositories this migration created (recorded by the repositories phase)
    created = await created_repositories(store)
    probe_all = settings.target.probe_created_repositories
    copies = observer.copies = copy_limiter(settings.transfer.workers)
    worker = CopyWorker(
        source,
        target,
        options=CopyOptions(
            conflict_policy=ConflictPolicy(settings.target.conflict),
            min_checksum_deploy_size=settings.target.min_checksum_deploy_size,
            chunk_size=settings.transfer.chunk_size,
            retry=_retry_policy(settings),
            target_checksums=(
                ("sha1", "sha256", "md5") if target.capabilities.server_checksums else ()
            ),
            checksum_files=target.capabilities.checksum_files,
            listing_max_age=settings.target.folder_listing_max_age,
        ),
        limiter=copies,
        bandwidth=BandwidthLimiter(per_process(settings.transfer).bandwidth_limit),
        observer=observer,
        # a repository this migration created may still hold a file someone else put there
        must_probe=lambda repo: probe_all or repo not in created,
        breaker=breaker,
        source_changed=lambda spec: _reopen(store, spec),
        rng=random.Random(),
    )
    return worker, copies


async def _reopen(store: CheckpointStore, spec: ItemSpec) -> None:
    """A file replaced at the source since it was listed: the store takes its new facts and
    re-opens it, so the next claim copies the new content."""
    await store.upsert_items([spec])
