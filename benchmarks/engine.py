"""Engine figures (issue 3, "Numbers to reach"): ``transfer migrate`` measured in its own process.

One scenario = a fresh sandbox (its own process, sink mode: the target keeps sizes and
checksums only, so no disk is measured) + a fresh store, then:

1. the file lists are read once through the API, so the emulator computes its lazily generated
   digests before the clock starts (real Bintray has them stored);
2. ``transfer migrate --only repositories`` creates the target repositories (falling back to
   the Artifactory admin API when that phase fails), not timed;
3. ``transfer migrate --only artifacts --no-progress --json [--workers N]`` is the measurement:
   wall time of the whole process (start-up and discovery included), peak RSS of exactly that
   process (``ru_maxrss`` from ``wait4``), its CPU seconds and the emulator's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.client import Endpoints, bintray_repos, create_target_repos, open_session
from benchmarks.client import warm_digests as _warm_digests
from benchmarks.procs import SandboxProcess, cpu_seconds, run_measured, transfer_args

__all__ = ["parse_summary", "run_engine"]

_MB = 1e6
_SETUP_TIMEOUT = 300.0


def parse_summary(stdout: str) -> dict[str, Any]:
    """The JSON summary ``transfer migrate --json`` prints last ({} when there is none)."""
    start = stdout.find("{\n")
    if start < 0:
        return {}
    try:
        parsed: dict[str, Any] = json.loads(stdout[start:])
    except json.JSONDecodeError:
        return {}
    return parsed


async def _prepare(ep: Endpoints) -> tuple[int, float]:
    started = time.perf_counter()
    async with open_session(16) as session:
        files = await _warm_digests(session, ep)
    return files, time.perf_counter() - started


async def _create_repos(ep: Endpoints) -> None:
    async with open_session(4) as session:
        await create_target_repos(session, ep, await bintray_repos(session, ep))


def _migrate_args(config: Path, workers: int | None, profile_to: Path | None) -> list[str]:
    args = ["migrate", "-c", str(config), "--only", "artifacts", "--no-progress", "--json"]
    if workers is not None:
        args += ["--workers", str(workers)]
    if profile_to is None:
        return transfer_args(*args)
    # pyinstrument samples the wall clock of the main thread: where the event loop spends it
    return [
        sys.executable,
        "-m",
        "pyinstrument",
        "--renderer",
        profile_to.suffix.lstrip(".") or "text",
        "--outfile",
        str(profile_to),
        "-m",
        "transfer",
        *args,
    ]


def run_engine(
    name: str,
    workdir: Path,
    *,
    profile: str,
    file_count: int | None = None,
    file_size: int | None = None,
    workers: int | None = None,
    timeout: float = 1800.0,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One measured migration; returns the raw figures (``ok`` says whether it completed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(
        workdir, profile, sink=True, file_count=file_count, file_size=file_size
    ) as sandbox:
        expected, warm_seconds = asyncio.run(_prepare(sandbox.endpoints))
        repos = run_measured(
            transfer_args(
                "migrate", "-c", str(sandbox.config), "--only", "repositories", "--no-progress"
            ),
            cwd=workdir,
            env=sandbox.env,
            timeout=_SETUP_TIMEOUT,
        )
        repos_how = "transfer migrate --only repositories"
        if repos.returncode != 0:
            asyncio.run(_create_repos(sandbox.endpoints))
            repos_how = "Artifactory admin API (the repositories phase failed)"
        emulator_cpu = cpu_seconds(sandbox.pid)
        command = _migrate_args(sandbox.config, workers, profile_to)
        stats = run_measured(command, cwd=workdir, env=sandbox.env, timeout=timeout)
        emulator_cpu = cpu_seconds(sandbox.pid) - emulator_cpu
    summary = parse_summary(stats.stdout)
    done = summary.get("items", {}).get("done", {"items": 0, "bytes": 0})
    wall = stats.wall_seconds
    return {
        "name": name,
        "profile": profile,
        "file_count": file_count,
        "file_size": file_size,
        "workers": workers,
        "sink": True,
        "profiled": profile_to is not None,
        "ok": stats.returncode == 0 and done["items"] == expected,
        "returncode": stats.returncode,
        "files_expected": expected,
        "files_done": done["items"],
        "bytes_done": done["bytes"],
        "wall_seconds": wall,
        "files_per_s": done["items"] / wall if wall > 0 else 0.0,
        "mb_per_s": done["bytes"] / _MB / wall if wall > 0 else 0.0,
        "peak_rss_mb": stats.peak_rss_bytes / _MB,
        "maxrss_mb": stats.maxrss_bytes / _MB,
        "polled_hwm_mb": stats.polled_hwm_bytes / _MB,
        "migrate_cpu_seconds": stats.cpu_seconds,
        "emulator_cpu_seconds": emulator_cpu,
        "digest_warmup_seconds": warm_seconds,
        "repositories_created_by": repos_how,
        "command": " ".join(command),
        "stderr_tail": stats.stderr_tail if stats.returncode != 0 else "",
    }
