"""The ``discovery`` scenario: discovery alone against a Bintray emulator whose every API call
takes ``api_ms`` (150 ms by default, as Bintray's API answered), default settings.

``bench-small`` of ``file_count`` files is 100 files per package (10 versions of 10 files), so
100,000 files are 1,000 packages. Discovery runs in this process as ``transfer migrate`` runs it
(the metadata mapper included), once with file attributes (one more call per file) and once
without; each run reports files/s, the API calls made, the limit the adaptive limiter reached,
its throttles, and the machine's load. The first run also pays for the emulator hashing every
file once (its digests are computed on first listing); the second finds them computed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.procs import SandboxProcess, fresh_workdir
from transfer.checkpoint import SqliteStore
from transfer.migrate.metadata import MetadataMapper
from transfer.pipeline.discover import discover
from transfer.redaction import Secret
from transfer.sources.bintray import BintraySource

__all__ = ["discovery_table", "run_discovery_rate"]


async def _discover(endpoints: dict[str, Any], db: Path, file_attributes: bool) -> dict[str, Any]:
    source = BintraySource(
        endpoints["bintray_api"],
        endpoints["bintray_download"],
        endpoints["subject"],
        endpoints["bintray_user"],
        Secret(endpoints["bintray_key"]),
    )
    peak = 0
    async with source, SqliteStore(db) as store:
        mapper = MetadataMapper(source, store, file_attributes=file_attributes, concurrency=32)

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, source.api_limiter.in_flight)
                await asyncio.sleep(0.05)

        started = time.perf_counter()
        watcher = asyncio.ensure_future(watch())
        try:
            result = await discover(
                source, store, subject=source.subject, repo_key_template="{repo}", properties=mapper
            )
            await mapper.flush()
        finally:
            watcher.cancel()
        seconds = time.perf_counter() - started
        limiter = source.api_limiter
        return {
            "files": result.files,
            "packages": result.packages,
            "versions": result.versions,
            "seconds": round(seconds, 2),
            "files_per_s": round(result.files / seconds, 1) if seconds > 0 else 0.0,
            "api_calls": source._api_client.stats.requests,
            "peak_in_flight": peak,
            "final_limit": limiter.limit,
            "throttles": limiter.throttles,
        }


def run_discovery_rate(
    workdir: Path, *, file_count: int, api_ms: float = 150.0
) -> list[dict[str, Any]]:
    """Discovery with and without file attributes against one slowed emulator."""
    fresh_workdir(workdir)
    runs = []
    with SandboxProcess(
        workdir / "bintray",
        "bench-small",
        sink=True,
        file_count=file_count,
        faults=f"bintray.api:latency={api_ms / 1000:g}",
    ) as sandbox:
        for attributes in (False, True):
            load = os.getloadavg()[0]
            db = Path(tempfile.mkdtemp(dir=workdir)) / "state.db"
            figures = asyncio.run(_discover(sandbox.endpoints, db, attributes))
            runs.append(
                {
                    "name": f"discovery@{api_ms:g}ms" + (" +file attributes" if attributes else ""),
                    "load_before": round(load, 2),
                    "load_after": round(os.getloadavg()[0], 2),
                    "ok": figures["files"] == file_count,
                    **figures,
                }
            )
    return runs


def discovery_table(runs: list[dict[str, Any]]) -> str:
    """One line per discovery run."""
    header = (
        f"{'run':<36} {'files':>7} {'pkgs':>5} {'files/s':>8} {'s':>6} {'API calls':>9} "
        f"{'peak':>5} {'limit':>5} {'thr':>4} {'load 1m':>12}"
    )
    return "\n".join(
        [
            header,
            *(
                f"{r['name']:<36} {r['files']:>7,} {r['packages']:>5} {r['files_per_s']:>8,.1f} "
                f"{r['seconds']:>6.1f} {r['api_calls']:>9,} {r['peak_in_flight']:>5} "
                f"{r['final_limit']:>5} {r['throttles']:>4} "
                f"{r['load_before']:>5.2f}/{r['load_after']:<5.2f}"
                for r in runs
            ),
        ]
    )
