"""Two workers started together on one PostgreSQL run share it: the source is listed once, the
side phases create things once, and every file is uploaded once and ends ``done``."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from pathlib import Path

import anyio
import pytest
from harness import assert_target_matches_source, settings_for

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import MigrationSummary, migrate, status
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings, StoreSettings

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def _on_postgres(settings: Settings, dsn: str) -> Settings:
    run = f"shared-{uuid.uuid4().hex[:10]}"  # a fresh run: the server outlives the test
    return dataclasses.replace(settings, store=StoreSettings(url=dsn, run=run))


def _twice(sandbox: Sandbox) -> list[tuple[str, str]]:
    """Administrative writes (repositories, users, permissions, properties) made twice."""
    writes = [
        (r.method, r.path)
        for r in sandbox.artifactory.request_log
        if r.method in ("PUT", "POST", "DELETE", "PATCH") and "/api/" in r.path
    ]
    return [w for w, n in Counter(writes).items() if n > 1]


async def test_two_workers_list_once_create_once_upload_once(dsn: str, tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = _on_postgres(settings_for(sandbox, tmp_path, workers=2), dsn)
        summaries: list[MigrationSummary] = []

        async def worker(phases: tuple[str, ...]) -> None:
            summary = await migrate(settings, bus=EventBus(), stop=StopControl(), phases=phases)
            summaries.append(summary)

        async def together(*phases: str) -> None:
            summaries.clear()
            with anyio.fail_after(90):
                async with anyio.create_task_group() as group:
                    group.start_soon(worker, phases)
                    group.start_soon(worker, phases)

        # the side phases first (the security phase lists files of its own, for entitlements)
        await together("repositories", "security")
        assert _twice(sandbox) == []
        sandbox.bintray.request_log.clear()
        await together("artifacts", "properties")

        files = sum(1 for _ in sandbox.org.iter_files())
        for summary in summaries:
            assert summary.counts is not None
            assert summary.counts[ItemState.DONE].items == files
        assert assert_target_matches_source(sandbox) == files

        listings = Counter(r.path for r in sandbox.bintray.request_log if r.path.endswith("/files"))
        # one listing of a version is two requests (with and without include_unpublished)
        assert listings, "the source was never listed"
        assert set(listings.values()) == {2}, "a version was listed by both workers"

        assert _twice(sandbox) == []
        uploads = Counter(
            r.path
            for r in sandbox.artifactory.request_log
            if r.method == "PUT" and r.bytes_in > 0 and "/api/" not in r.path
        )
        assert max(uploads.values()) == 1

        state = await status(settings)
        rows = state.worker_rows(state.workers[0].last_seen)
        assert len(rows) == 2
        assert sum(int(row["files_finished"]) for row in rows) == files
        assert sum(float(row["share_files"]) for row in rows) == pytest.approx(1.0, abs=0.01)
