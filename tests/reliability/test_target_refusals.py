"""The target refuses under a running migration (issue 15): a full storage quota and an expired
token stop the run at once with exit 3 and one line saying what to do, and the next run resumes;
a file over the per-file size limit fails alone with its reason; a maintenance window answering
503 with ``Retry-After`` is waited out; a repository deleted mid-run and a properties endpoint
that answers 500 end in clear per-item or per-service reasons, never a traceback."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from reliability_kit import migrate_once, run_cli, sandbox_settings, store_rows, write_cli_config

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.redaction import Secret
from transfer.reporting.events import EventBus, ItemFinished
from transfer.runner import MigrationSummary, migrate
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

_PHASES = ("repositories", "artifacts")


async def _migrate_and_then(
    settings: Settings, after_first_done: object, *, phases: tuple[str, ...] = _PHASES
) -> MigrationSummary:
    """One migrate; ``after_first_done()`` runs when the first file is recorded done."""
    bus = EventBus()
    fired = False

    def on_finished(event: ItemFinished) -> None:
        nonlocal fired
        if not fired and event.state is ItemState.DONE:
            fired = True
            after_first_done()  # type: ignore[operator]

    bus.subscribe(on_finished, ItemFinished)
    return await migrate(settings, bus=bus, stop=StopControl(), phases=phases)


def _count(summary: MigrationSummary, state: ItemState) -> int:
    assert summary.counts is not None
    return summary.counts[state].items


async def test_a_full_storage_quota_stops_at_once_and_resumes_when_it_grows(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        options = sandbox.artifactory.options
        settings = sandbox_settings(sandbox, tmp_path, workers=2)

        def fill_quota() -> None:
            options.storage_quota_bytes = 0  # nothing new fits any more

        summary = await _migrate_and_then(settings, fill_quota)
        assert summary.tripped is not None
        message = summary.tripped.message()
        assert "quota is exhausted" in message
        assert "raise the storage quota, then run the same command again" in message
        assert summary.tripped.count == 1  # at once, not after a streak of failed files
        assert _count(summary, ItemState.FAILED) == 0
        assert _count(summary, ItemState.PENDING) > 0
        refused = sandbox.artifactory.request_log.count(method="PUT", status=413)
        assert 1 <= refused <= 2  # at most one refusal per worker, no retry storm

        options.storage_quota_bytes = None  # the quota grows
        again = await migrate_once(settings, phases=_PHASES)
        assert again.tripped is None
        assert _count(again, ItemState.DONE) == again.counts.total.items  # type: ignore[union-attr]


async def test_a_full_quota_exits_3_with_one_line_from_the_cli(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        sandbox.artifactory.options.storage_quota_bytes = 0
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 3, result.out + result.err
        assert "Traceback" not in result.out + result.err
        stopped = [line for line in result.out.splitlines() if line.startswith("stopped:")]
        assert len(stopped) == 1, result.out
        assert "quota is exhausted" in stopped[0]
        states = {row["state"] for row in store_rows(tmp_path / "state.db")}
        assert ItemState.FAILED.value not in states


async def test_a_file_over_the_size_limit_fails_alone_with_the_reason(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        sandbox.artifactory.options.max_file_size = 100_000
        settings = sandbox_settings(sandbox, tmp_path, workers=2)
        summary = await migrate_once(settings, phases=_PHASES)
        assert summary.tripped is None
        rows = store_rows(tmp_path / "state.db")
        failed = [row for row in rows if row["state"] == ItemState.FAILED.value]
        assert {row["size"] for row in failed} == {r["size"] for r in rows if r["size"] > 100_000}
        assert len(failed) == 3
        for row in failed:
            assert "larger than the target accepts" in row["last_error"]
            assert row["attempts"] == 1  # not retried: it would be refused again
        done = [row for row in rows if row["state"] == ItemState.DONE.value]
        assert len(done) + len(failed) == len(rows)


async def test_an_expired_token_stops_at_once_and_a_new_token_resumes(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        emulator = sandbox.artifactory
        base = sandbox_settings(sandbox, tmp_path, workers=2)

        def with_token(token: str) -> Settings:
            target = replace(base.target, user=None, password=None, token=Secret(token))
            return replace(base, target=target)

        settings = with_token(emulator.issue_admin_token(expires_in=3600))
        summary = await _migrate_and_then(settings, emulator.expire_tokens)
        assert summary.tripped is not None
        assert "access token has expired" in summary.tripped.message()  # or "... or was revoked"
        assert "create a new access token" in summary.tripped.message()
        assert _count(summary, ItemState.FAILED) == 0
        assert _count(summary, ItemState.PENDING) > 0
        expired = emulator.request_log.count(status=401)
        assert 1 <= expired <= 2  # at most one per worker: no retry storm

        again = await migrate_once(with_token(emulator.issue_admin_token()), phases=_PHASES)
        assert again.tripped is None
        assert _count(again, ItemState.DONE) == again.counts.total.items  # type: ignore[union-attr]


async def test_a_maintenance_window_is_waited_out(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        options = sandbox.artifactory.options
        # two tries per item: only waiting out Retry-After without spending tries gets through
        settings = sandbox_settings(sandbox, tmp_path, workers=2, max_attempts=2)
        await migrate_once(settings, phases=("repositories",))

        async def window() -> None:
            options.read_only_retry_after = 1
            await anyio.sleep(3)
            options.read_only_retry_after = None

        async with anyio.create_task_group() as group:
            group.start_soon(window)
            await anyio.lowlevel.checkpoint()
            summary = await migrate_once(settings, phases=("artifacts",))
        assert summary.tripped is None
        refused = sandbox.artifactory.request_log.count(status=503)
        assert refused >= 2
        assert _count(summary, ItemState.DONE) == summary.counts.total.items  # type: ignore[union-attr]


async def test_500s_on_the_properties_patch_stop_only_the_properties_phase(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny", faults="artifactory.metadata:500=1") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2, max_attempts=2)
        summary = await migrate_once(settings, phases=(*_PHASES, "properties"))
        # every file landed (its properties ride on the upload); the phase that only PATCHes
        # stops on the persistent 500s with one line naming them, and resumes once they end
        assert _count(summary, ItemState.DONE) == summary.counts.total.items  # type: ignore[union-attr]
        assert summary.tripped is not None
        assert "keeps answering HTTP 500" in summary.stopped
        assert "PATCH" in summary.stopped
        assert "/api/metadata/" in summary.stopped
        sandbox.faults.disable()
        again = await migrate_once(settings, phases=("properties",))
        assert again.tripped is None
        assert again.side_failures == 0
        assert any(note.startswith("properties:") and " 0 failed" in note for note in again.notes)


async def test_a_target_repository_deleted_mid_run_stops_and_resumes(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2)
        await migrate_once(settings, phases=("repositories",))
        e = sandbox.endpoints
        login = base64.b64encode(f"{e.artifactory_user}:{e.artifactory_password}".encode())
        headers = {"Authorization": f"Basic {login.decode()}"}
        deleted = anyio.Event()

        async def delete_internal() -> None:
            async with aiohttp.ClientSession(headers=headers) as http:
                url = f"{e.artifactory_url}/api/repositories/internal"
                async with http.delete(url) as response:
                    assert response.status == 200
            deleted.set()

        async with anyio.create_task_group() as group:
            summary = await _migrate_and_then(
                settings, lambda: group.start_soon(delete_internal), phases=("artifacts",)
            )
        assert deleted.is_set()
        rows = store_rows(tmp_path / "state.db")
        stranded = [r for r in rows if r["target_repo"] == "internal" and r["state"] != "done"]
        assert stranded  # the repository went before all of its files landed
        # Either every call failed that way in a row (the breaker stops the run, files left
        # pending), or other repositories' files went through in between (each of the
        # repository's files fails with the reason); nothing else fails either way.
        failed = [r for r in rows if r["state"] == ItemState.FAILED.value]
        assert all(r["target_repo"] == "internal" for r in failed)
        for row in failed:
            assert "Repository internal not found" in row["last_error"]
        if summary.tripped is not None:
            assert "Repository internal not found" in summary.stopped
            assert "check that the repositories exist" in summary.stopped
        else:
            assert failed
        # the next run's repositories phase creates it again, and the files follow
        again = await migrate_once(settings, phases=_PHASES, retry_failed=True)
        assert again.tripped is None
        assert _count(again, ItemState.DONE) == again.counts.total.items  # type: ignore[union-attr]
