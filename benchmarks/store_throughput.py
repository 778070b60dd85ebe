"""Store and scale-out figures (issue 8): ``python -m benchmarks.store_throughput [--quick]``.

Needs a PostgreSQL server: ``TRANSFER_TEST_POSTGRES_DSN`` (or ``--dsn``), e.g.::

    source scripts/postgres.sh && start_postgres
    .venv/bin/python -m benchmarks.store_throughput
    stop_postgres

Two measurements, both on this machine, each process measured from the outside:

* ``store`` — claim/record throughput of the SQLite and PostgreSQL stores: ``--items`` items are
  upserted (timed: the discovery write rate), then 1 and 4 claimer *processes* each loop
  ``claim_batch(64)`` → ``record(done)`` per item until nothing is left. Items/s is items over
  the wall time from a common start signal to the last claimer's final flush (process start-up
  and connecting are outside the clock). No HTTP: this is the ceiling the store puts on a run.
* ``migrate`` — whole migrations of ``bench-small`` (``--files`` files of 1-64 KiB, sink mode) with
  1, 2 and 4 ``transfer migrate --only artifacts`` processes on one PostgreSQL run. Each count gets
  a fresh sandbox; wall time runs from starting the workers to the last one exiting.

Raw results go to ``benchmarks/results/store-<timestamp>.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.client import bintray_repos, create_target_repos, open_session, warm_digests
from benchmarks.procs import REPO_ROOT, SandboxProcess, cpu_seconds, machine_cpu
from transfer.checkpoint.base import CheckpointStore, ItemSpec, Outcome
from transfer.checkpoint.postgres import PostgresStore
from transfer.checkpoint.sqlite import SqliteStore
from transfer.models import ItemState

__all__ = ["main"]

DSN_ENV = "TRANSFER_TEST_POSTGRES_DSN"
CLAIM_BATCH = 64
RESULTS = REPO_ROOT / "benchmarks" / "results"


# -- the store measurement ---------------------------------------------------------------------


def _open(backend: str, where: str, run: str) -> CheckpointStore:
    if backend == "sqlite":
        return SqliteStore(where, run=run)
    dsn, _, schema = where.partition("#")
    return PostgresStore(dsn, run=run, schema=schema or None)


def _spec(n: int) -> ItemSpec:
    path = f"org/pkg{n // 100:05d}/{n % 100}/file-{n:08d}.jar"
    return ItemSpec(
        repo="maven",
        package=f"pkg{n // 100:05d}",
        version=str(n % 100),
        path=path,
        size=4096 + n % 65536,
        sha1=f"{n:040x}",
        sha256=f"{n:064x}",
        target_repo="maven",
        target_path=path,
        properties={"bintray.package": [f"pkg{n // 100:05d}"]},
    )


async def _seed(backend: str, where: str, run: str, items: int) -> float:
    """Upsert ``items`` items in batches of 500; returns items per second."""
    async with _open(backend, where, run) as store:
        started = time.perf_counter()
        for first in range(0, items, 500):
            await store.upsert_items([_spec(n) for n in range(first, min(first + 500, items))])
        return items / (time.perf_counter() - started)


async def _claim_all(backend: str, where: str, run: str, owner: str) -> None:
    """Child process: wait for "go" on stdin, then claim and record until nothing is left."""
    async with _open(backend, where, run) as store:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started, claimed = time.perf_counter(), 0
        done = Outcome(state=ItemState.DONE, add_attempts=1, how="streamed")
        while batch := await store.claim_batch(owner, CLAIM_BATCH, 300):
            claimed += len(batch)
            for work in batch:
                await store.record(work.id, done, owner=owner)
        await store.flush()
        print(json.dumps({"claimed": claimed, "seconds": time.perf_counter() - started}))


def _claimers(backend: str, where: str, run: str, processes: int) -> dict[str, Any]:
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.store_throughput", "--child", backend, where, run],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a {backend} claimer failed to start")
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=600)[0] for child in children]
    wall = time.perf_counter() - started
    claimed = [json.loads(out.strip().splitlines()[-1])["claimed"] for out in outputs]
    return {"processes": processes, "claimed": sum(claimed), "per_process": claimed, "wall": wall}


def _store_figures(dsn: str, items: int, processes: tuple[int, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        targets = {
            "sqlite": str(Path(tmp) / "store.db"),
            "postgres": f"{dsn}#bench_{uuid.uuid4().hex[:10]}",
        }
        try:
            for backend, where in targets.items():
                for count in processes:
                    run = f"claim-{count}"
                    upserts = asyncio.run(_seed(backend, where, run, items))
                    measured = _claimers(backend, where, run, count)
                    rows.append(
                        {
                            "backend": backend,
                            "items": items,
                            "upsert_items_per_s": upserts,
                            **measured,
                            "claim_record_items_per_s": measured["claimed"] / measured["wall"],
                        }
                    )
                    print(_store_line(rows[-1]), flush=True)
        finally:
            asyncio.run(_drop_schema(dsn, targets["postgres"].partition("#")[2]))
    return rows


async def _drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _store_line(row: dict[str, Any]) -> str:
    return (
        f"{row['backend']:9} {row['processes']} claimer process(es): "
        f"claim+record {row['claim_record_items_per_s']:8,.0f} items/s "
        f"({row['claimed']:,} items in {row['wall']:.2f}s); "
        f"upsert {row['upsert_items_per_s']:8,.0f} items/s"
    )


# -- the migration measurement -----------------------------------------------------------------


def _use_postgres(config: Path, dsn: str, run: str, lease: int) -> None:
    text = re.sub(r'(?m)^path = ".*"\n', "", config.read_text(), count=1)
    text = text.replace("[store]\n", f'[store]\nurl = "{dsn}"\nrun = "{run}"\n', 1)
    config.write_text(text + f"\n[transfer]\nlease_seconds = {lease}\n")


async def _prepare(endpoints: dict[str, Any]) -> int:
    async with open_session(16) as session:
        files = await warm_digests(session, endpoints)
        await create_target_repos(session, endpoints, await bintray_repos(session, endpoints))
    return files


def _one_migration(dsn: str, workdir: Path, files: int, workers: int) -> dict[str, Any]:
    with SandboxProcess(workdir, "bench-small", sink=True, file_count=files) as sandbox:
        expected = asyncio.run(_prepare(sandbox.endpoints))
        run = f"bench-{workers}w-{uuid.uuid4().hex[:8]}"
        _use_postgres(sandbox.config, dsn, run, lease=60)
        command = [
            sys.executable, "-m", "transfer", "migrate", "-c", str(sandbox.config),
            "--only", "artifacts", "--no-progress", "--json",
        ]  # fmt: skip
        emulator_cpu = cpu_seconds(sandbox.pid)
        environ = {**os.environ, **sandbox.env}
        busy_before = machine_cpu()
        started = time.perf_counter()
        children = [
            subprocess.Popen(
                command,
                cwd=workdir,
                env=environ,
                stdout=subprocess.DEVNULL,
                stderr=(workdir / f"worker-{i}.log").open("wb"),
            )
            for i in range(workers)
        ]
        cpu, codes = 0.0, []
        for child in children:
            _, status, usage = os.wait4(child.pid, 0)  # its own CPU time, exactly
            child.returncode = os.waitstatus_to_exitcode(status)
            codes.append(child.returncode)
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.perf_counter() - started
        busy_after = machine_cpu()
        emulator_cpu = cpu_seconds(sandbox.pid) - emulator_cpu
        facts = asyncio.run(_run_facts(dsn, run))
    busy, total = (after - before for after, before in zip(busy_after, busy_before, strict=True))
    return {
        "workers": workers,
        "files_expected": expected,
        **facts,
        "ok": facts["files_done"] == expected and codes == [0] * workers,
        "wall": wall,
        "files_per_s": facts["files_done"] / wall,
        "mb_per_s": facts["bytes_done"] / 1e6 / wall,
        "migrate_cpu_seconds": cpu,
        "emulator_cpu_seconds": emulator_cpu,
        # every process on the machine (workers, emulators, PostgreSQL): 1.0 = all cores busy
        "machine_busy": busy / total if total else 0.0,
    }


async def _run_facts(dsn: str, run: str) -> dict[str, Any]:
    """Files and bytes done, and when discovery and copying ran, from the store."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        run_id = await conn.fetchval("SELECT id FROM runs WHERE name = $1", run)
        done = await conn.fetchrow(
            "SELECT count(*), COALESCE(sum(size), 0), min(started_at), max(finished_at) "
            "FROM items WHERE state = 'done' AND run_id = $1",
            run_id,
        )
        listed = await conn.fetchrow(
            "SELECT min(discovered_at), max(discovered_at) FROM discovered WHERE run_id = $1",
            run_id,
        )
        opened = await conn.fetchval("SELECT created_at FROM runs WHERE id = $1", run_id)
    finally:
        await conn.close()
    return {
        "files_done": int(done[0]),
        "bytes_done": int(done[1]),
        # from the run's creation (the first worker up) to the last version marked discovered
        "discovery_seconds": (listed[1] or opened) - opened,
        "copy_seconds": (done[3] or 0) - (done[2] or 0),
    }


def _migrate_figures(dsn: str, files: int, counts: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="scaleout-bench-") as tmp:
        for workers in counts:
            rows.append(_one_migration(dsn, Path(tmp) / f"w{workers}", files, workers))
            print(_migrate_line(rows[-1]), flush=True)
    return rows


def _migrate_line(row: dict[str, Any]) -> str:
    return (
        f"{row['workers']} worker process(es): {row['files_done']}/{row['files_expected']} files "
        f"in {row['wall']:.1f}s = {row['files_per_s']:.0f} files/s, {row['mb_per_s']:.1f} MB/s; "
        f"discovery {row['discovery_seconds']:.1f}s; CPU seconds: workers "
        f"{row['migrate_cpu_seconds']:.1f}, emulators {row['emulator_cpu_seconds']:.1f}; "
        f"machine {row['machine_busy']:.0%} busy"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default=os.environ.get(DSN_ENV))
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--items", type=int, default=None, help="items for the store figures")
    parser.add_argument("--files", type=int, default=None, help="files for the migrations")
    parser.add_argument("--only", choices=("store", "migrate"), default=None)
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "WHERE", "RUN"), help="internal")
    args = parser.parse_args(argv)
    if args.child:
        backend, where, run = args.child
        asyncio.run(_claim_all(backend, where, run, f"bench:{os.getpid()}"))
        return 0
    if not args.dsn:
        parser.error(f"need a PostgreSQL server: --dsn or {DSN_ENV}")
    items = args.items or (5_000 if args.quick else 50_000)
    files = args.files or (500 if args.quick else 3_000)
    record: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count()}
    if args.only in (None, "store"):
        record["store"] = _store_figures(args.dsn, items, (1, 4))
    if args.only in (None, "migrate"):
        record["migrate"] = _migrate_figures(args.dsn, files, (1, 2, 4))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"store-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(record, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
