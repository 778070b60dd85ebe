"""Copies in flight adapt over real sockets: with round trips made long by the emulators' latency
more copies run at once than the old fixed default of 8, and when the target pushes back
(429/503 on deploys) the limit drops below what was in flight. No timing is asserted: the
figures are the limiter's own (peak in flight, limit, push-backs), as the run publishes them
for ``transfer status``."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    assert_target_matches_source,
    create_target_repos,
    done_count,
    run_migration,
    settings_for,
)

from transfer.checkpoint import SqliteStore
from transfer.pipeline.engine import COPIES_START, StopControl
from transfer.reporting.events import EventBus, ThrottleChanged
from transfer.runner import migrate
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

FILES = 80


async def copy_figures(settings: Settings) -> dict[str, float | int]:
    async with SqliteStore(settings.store.path, run=settings.store.run) as store:
        (worker,) = await store.list_workers()
    return worker.stats


async def test_long_round_trips_put_more_copies_in_flight(tmp_path: Path) -> None:
    async with Sandbox("bench-small", file_count=FILES, faults="*:latency=0.05") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path, workers=64)
        summary = await run_migration(settings)
        assert done_count(summary) == FILES
        assert assert_target_matches_source(sandbox) == FILES
        figures = await copy_figures(settings)
        assert figures["copies_peak"] > COPIES_START
        assert figures["copies_throttles"] == 0
        assert any("copies in flight: up to" in note for note in summary.notes)


@pytest.mark.parametrize("status", ["429", "503"])
async def test_push_back_lowers_the_copies_in_flight(tmp_path: Path, status: str) -> None:
    faults = f"*:latency=0.02;artifactory.deploy:{status}=0.2"
    async with Sandbox("bench-small", file_count=FILES, faults=faults, seed=7) as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path, workers=64, max_attempts=30)
        bus = EventBus()
        limits: list[int | None] = []
        bus.subscribe(lambda event: limits.append(event.limit), ThrottleChanged)
        summary = await migrate(settings, bus=bus, stop=StopControl(), phases=("artifacts",))
        assert done_count(summary) == FILES
        figures = await copy_figures(settings)
        assert figures["copies_throttles"] >= 1
        assert figures["copies_peak"] >= COPIES_START
        # the first push-back came while 8 or more copies were allowed: it halved them
        assert limits
        assert min(limit or 0 for limit in limits) < COPIES_START
