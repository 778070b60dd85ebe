"""Discovery progress on the event bus: "listing: N files so far" until the source is fully
listed, then the run's totals (so a display shows percentages and an ETA only when they mean
something)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from transfer.checkpoint.base import CheckpointStore
from transfer.pipeline.discover import DiscoveryResult
from transfer.reporting.events import DiscoveryProgress, EventBus

__all__ = ["discovery_progress", "listed"]


def discovery_progress(found: DiscoveryResult, *, complete: bool = False) -> DiscoveryProgress:
    """The event for what discovery has found so far."""
    return DiscoveryProgress(
        repos=found.repositories,
        packages=found.packages,
        versions=found.versions,
        files=found.files,
        bytes=found.bytes,
        complete=complete,
    )


async def listed(bus: EventBus, store: CheckpointStore, discovery: Awaitable[Any]) -> None:
    """Await ``discovery`` (run here or by another worker of the run), then say the listing is
    complete, with the run's totals from the store."""
    await discovery
    counts = await store.counts()
    bus.emit(
        DiscoveryProgress(
            repos=0,
            packages=0,
            versions=0,
            files=counts.total.items,
            bytes=counts.total.bytes,
            complete=True,
        )
    )
