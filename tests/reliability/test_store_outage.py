"""The store fails under a running migration (issue 15): PostgreSQL restarted (fast and immediate
shutdown) or its connections killed with ``pg_terminate_backend`` in the middle of a three-worker
run. The workers pause with one clear line, reconnect
with backoff and go on; nothing is lost or done twice. A store that stays away past
``store.outage_timeout`` — stopped, or frozen so that nothing answers — stops the CLI with
exit 3, and the same command finishes once it is back (the decision alone:
tests/unit/test_postgres_outage_wait.py).
Each test starts a PostgreSQL server of its own (tests/reliability/postgres_control.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import anyio
import asyncpg
import pytest
from postgres_control import own_postgres
from reliability_kit import (
    CliResult,
    migrate_once,
    run_cli,
    sandbox_settings,
    target_differences,
    write_cli_config,
)

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus, ItemFinished
from transfer.runner import MigrationSummary, migrate
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def _on_postgres(settings: Settings, dsn: str) -> Settings:
    return replace(settings, store=replace(settings.store, url=dsn, run="outage"))


async def _terminate_backends(dsn: str) -> int:
    """Kill every connection of the tool server-side (a network drop, as PostgreSQL sees it);
    returns how many."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'transfer' AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("mode", ["fast", "immediate", "terminate"])
async def test_postgres_restarted_mid_run_pauses_and_goes_on(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    with own_postgres() as server:
        async with Sandbox("tiny", faults="download:latency=0.05") as sandbox:
            settings = _on_postgres(sandbox_settings(sandbox, tmp_path, workers=2), server.dsn)
            await migrate_once(settings, phases=("repositories",))
            finished = anyio.Event()
            done = 0

            def count(event: ItemFinished) -> None:
                nonlocal done
                done += event.state is ItemState.DONE
                if done == 5:
                    finished.set()

            async def restart() -> None:
                await finished.wait()
                if mode == "terminate":
                    killed.append(await _terminate_backends(server.dsn))
                    return
                await anyio.to_thread.run_sync(server.restart, mode)

            results: list[MigrationSummary] = []
            killed: list[int] = []

            async def worker(number: int) -> None:
                # three processes would each write their own report: so do these three
                report = replace(settings.report, output_dir=tmp_path / f"report-{number}")
                bus = EventBus()
                bus.subscribe(count, ItemFinished)
                mine = replace(settings, report=report)
                results.append(
                    await migrate(mine, bus=bus, stop=StopControl(), phases=("artifacts",))
                )

            async with anyio.create_task_group() as group:
                group.start_soon(restart)
                for number in range(3):
                    group.start_soon(worker, number)

            assert len(results) == 3
            for summary in results:
                assert summary.tripped is None
                assert not summary.stopped
            told = [note for r in results for note in r.notes if "PostgreSQL store" in note]
            paused = [n for n in told if n.startswith("lost the connection")]
            back = [n for n in told if " is back after " in n]
            assert len(back) == len(paused) <= 3  # one line per worker that met the outage
            if mode == "terminate":
                # idle pooled connections are replaced unseen; a busy one pauses as above
                assert killed[0] >= 3
            else:
                assert paused
                assert "pausing and reconnecting" in paused[0]
            # nothing lost, nothing done twice: every file done once, each uploaded once
            counts = results[-1].counts
            assert counts is not None
            assert counts[ItemState.DONE].items == counts.total.items
            log = sandbox.artifactory.request_log
            uploads = Counter(r.path for r in log if r.method == "PUT" and r.status == 201)
            assert max(uploads.values()) == 1, uploads.most_common(3)
            # the pause is told in one line, not in a driver's traceback per reconnection try
            logged = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
            assert logged == []


async def test_a_worker_with_a_skewed_clock_cannot_steal_or_lose_live_leases() -> None:
    """Leases are stamped by the database's clock: a worker ten minutes ahead does not find
    the others' fresh leases expired, and one ten minutes behind does not stamp leases that
    are expired the moment they are written."""
    from transfer.checkpoint.base import ItemSpec
    from transfer.checkpoint.postgres import PostgresStore

    with own_postgres() as server:
        ahead = PostgresStore(server.dsn, run="skew", clock=lambda: time.time() + 600)
        behind = PostgresStore(server.dsn, run="skew", clock=lambda: time.time() - 600)
        honest = PostgresStore(server.dsn, run="skew")
        async with honest, ahead, behind:
            await honest.upsert_items(
                [
                    ItemSpec(
                        repo="r",
                        package="p",
                        version="1",
                        path=f"f{n}",
                        size=1,
                        sha1=f"{n:040x}",
                        target_repo="r",
                        target_path=f"f{n}",
                    )
                    for n in range(6)
                ]
            )
            mine = {w.id for w in await honest.claim_batch("honest", 2, lease_seconds=60)}
            late = {w.id for w in await behind.claim_batch("behind", 2, lease_seconds=60)}
            taken = {w.id for w in await ahead.claim_batch("ahead", 10, lease_seconds=60)}
            assert len(mine) == len(late) == len(taken) == 2
            assert taken.isdisjoint(mine | late)  # nothing live was stolen
            assert await ahead.renew_leases("ahead", 60) == 2


async def _done_in(dsn: str) -> int:
    """Items the run has finished so far, read beside it (0 before its tables exist)."""
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('items') IS NOT NULL"):
            return 0
        return int(await conn.fetchval("SELECT count(*) FROM items WHERE state = 'done'"))
    finally:
        await conn.close()


@pytest.mark.parametrize("how", ["stopped", "frozen"])
async def test_a_store_away_past_the_outage_timeout_stops_the_run_resumably(
    tmp_path: Path, how: str
) -> None:
    """The CLI, end to end: PostgreSQL goes away mid-run — stopped (connections refused) or
    frozen (connections open, nothing answers: a hung server, a silent network) — for longer
    than a 2-second ``store.outage_timeout``. The run says it pauses, then stops with exit 3
    and one line; once the server is back the same command finishes the job."""
    with own_postgres() as server:
        async with Sandbox("tiny", faults="download:latency=0.05") as sandbox:
            config, env = write_cli_config(sandbox, tmp_path)
            store = f'[store]\nurl = "{server.dsn}"\nrun = "timeout"\noutage_timeout = 2\n'
            sqlite = f"[store]\npath = {json.dumps(str(tmp_path / 'state.db'))}\n"
            config.write_text(config.read_text().replace(sqlite, store))
            command = ("migrate", "-c", str(config), "--no-progress", "--workers", "2")
            ran: list[CliResult] = []

            async def migrate() -> None:
                ran.append(await run_cli(*command, env=env, deadline=20))  # a hang fails here

            async with anyio.create_task_group() as group:
                group.start_soon(migrate)
                with anyio.fail_after(15):
                    while await _done_in(server.dsn) < 3:
                        assert not ran, ran[0].err[-3000:]  # it must still be running
                        await anyio.sleep(0.05)
                if how == "frozen":
                    server.freeze()
                else:
                    await anyio.to_thread.run_sync(server.stop, "fast")
            line = ran[0].assert_clean_error(3, "store.outage_timeout", "run stops here")
            assert "pausing and reconnecting for up to 2 s" in ran[0].err, ran[0].err[-2000:]
            print(f"store {how}: {line}")

            if how == "frozen":
                server.thaw()
            else:
                await anyio.to_thread.run_sync(server.start)
            result = await run_cli(*command, env=env, deadline=20)
            assert result.code == 0, result.err[-3000:]
            total = sum(1 for _ in sandbox.org.iter_files())
            assert await _done_in(server.dsn) == total
            assert target_differences(sandbox) == []
