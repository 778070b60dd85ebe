"""Three ``transfer migrate`` processes on one PostgreSQL run, one SIGKILLed mid-run.

Every file ends ``done`` exactly once in the store and in the target, and the only files uploaded
twice are those the killed worker held leased when it died, sent again by a survivor only after
those leases expired (counted in the Artifactory emulator's request log).
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from anyio.abc import Process
from harness import REPO_ROOT, assert_target_matches_source, create_target_repos, write_cli_config

from transfer.sandbox.serve import Sandbox

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

LEASE_SECONDS = 3


def _use_postgres(config: Path, dsn: str, run: str) -> None:
    text = config.read_text()
    start = text.index("[store]")
    end = text.find("\n[", start + 1)
    store = f'[store]\nurl = "{dsn}"\nrun = "{run}"\n'
    rest = "" if end < 0 else text[end:]
    config.write_text(
        text[:start]
        + store
        + rest
        + f"\n[transfer]\nworkers = 2\nlease_seconds = {LEASE_SECONDS}\n"
    )


async def _rows(conn: Any, run: str, columns: str, where: str = "true") -> list[Any]:
    """``SELECT columns FROM items WHERE where`` in ``run``."""
    return list(
        await conn.fetch(
            f"SELECT {columns} FROM items "
            f"WHERE run_id = (SELECT id FROM runs WHERE name = $1) AND {where}",
            run,
        )
    )


async def _wait_for_victim(conn: Any, run: str, victim: str, files: int) -> None:
    """Until the victim holds leased items and the run is well under way, but not over: at
    least 30 files done and at least 50 not done yet, counted against the source's own total
    (discovery and copying overlap, so the store may not have listed them all yet). The workers
    create the tables themselves: until the first of them has, there is nothing to read."""
    with anyio.fail_after(60):
        while True:
            try:
                [row] = await _rows(
                    conn,
                    run,
                    "count(*) FILTER (WHERE state = 'done'), "
                    f"count(*) FILTER (WHERE state = 'in_flight' AND lease_owner LIKE '{victim}%')",
                )
            except asyncpg.UndefinedTableError:
                row = (0, 0)
            done, held = row
            if done >= 30 and files - done >= 50 and held > 0:
                return
            await anyio.sleep(0.05)


async def test_three_workers_one_killed(dsn: str, tmp_path: Path) -> None:
    run = f"many-{uuid.uuid4().hex[:10]}"
    async with Sandbox("demo") as sandbox:
        create_target_repos(sandbox)
        config, env = write_cli_config(sandbox, tmp_path)
        _use_postgres(config, dsn, run)
        command = [
            sys.executable, "-m", "transfer", "migrate", "-c", str(config),
            "--only", "artifacts", "--no-progress", "--bandwidth", "1MiB/s",
        ]  # fmt: skip
        logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
        processes: list[Process] = []
        conn = await asyncpg.connect(dsn)
        try:
            for log in logs:
                with log.open("wb") as sink:
                    processes.append(
                        await anyio.open_process(
                            command, env=env, cwd=REPO_ROOT, stdout=sink, stderr=sink
                        )
                    )
            victim = f"{socket.gethostname()}:{processes[1].pid}:"
            await _wait_for_victim(conn, run, victim, sum(1 for _ in sandbox.org.iter_files()))
            processes[1].kill()
            await processes[1].wait()
            killed_at = time.time()
            # what the dead worker held: in flight under its name, until the leases run out
            leased = {
                f"{r[0]}/{r[1]}": float(r[2])
                for r in await _rows(
                    conn,
                    run,
                    "target_repo, target_path, lease_expires",
                    f"state = 'in_flight' AND lease_owner LIKE '{victim}%'",
                )
            }
            with anyio.fail_after(90):
                codes = [await processes[i].wait() for i in (0, 2)]
            output = "\n".join(log.read_text()[-1500:] for log in logs)
            assert codes == [0, 0], output

            states = Counter(r[0] for r in await _rows(conn, run, "state"))
            files = sum(1 for _ in sandbox.org.iter_files())
            assert states == {"done": files}, states
            assert assert_target_matches_source(sandbox) == files

            uploads = [
                r
                for r in sandbox.artifactory.request_log
                if r.method == "PUT" and r.bytes_in > 0 and "/api/" not in r.path
            ]
            per_path = Counter(r.path.removeprefix("/artifactory/") for r in uploads)
            twice = {path for path, n in per_path.items() if n > 1}
            assert leased, "the killed worker held nothing: it was not killed mid-run"
            unexpected = twice - set(leased)
            assert not unexpected, f"uploaded twice, not held by the killed worker: {unexpected}"
            resent = 0
            for record in uploads:
                path = record.path.removeprefix("/artifactory/")
                if path in leased and record.at > killed_at:
                    # a survivor took the item over only once the dead worker's lease ran out
                    assert record.at >= leased[path], path
                    resent += 1
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
            with anyio.CancelScope(shield=True):
                for process in processes:
                    await process.wait()
                await conn.close()
        print(
            f"files: {files}; the killed worker held {len(leased)}, {resent} of them sent after "
            f"their lease expired; uploaded twice: {len(twice)}"
        )
