"""``transfer`` from the Bintray emulator to the Artifactory emulator, each in its own process.

Two ``transfer sandbox serve`` processes: one serves the profile's organisation (its Bintray
side is used), the other runs in sink mode with the ``tiny`` profile (its Artifactory side is
used: sizes and checksums kept, no bytes written). One configuration joins them; then, as in
:mod:`benchmarks.many`: digests warmed, repositories created (not timed), and the measured
``transfer migrate --only artifacts``. With ``preload_half`` every other file (by path) is put
into the target first, so half the content is already there: checksum deploy should make that
half nearly free (the adaptive probing stays on, as the hit rate is ~50 %).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.client import (
    Endpoints,
    download,
    list_file_paths,
    open_session,
    run_concurrently,
    upload,
    warm_emulator,
)
from benchmarks.engine import parse_summary
from benchmarks.peers import discovery_timeline, figures, store_durations
from benchmarks.procs import (
    SandboxProcess,
    cpu_seconds,
    fresh_workdir,
    run_measured,
    transfer_args,
)

__all__ = ["emulator_config", "joined_after", "run_emulated"]

_MB = 1e6
_SETUP_TIMEOUT = 300.0


def emulator_config(source: SandboxProcess, target: SandboxProcess, extra: str = "") -> str:
    """The configuration joining a Bintray-side and an Artifactory-side sandbox process."""
    s, t = source.endpoints, target.endpoints
    return f"""[source]
api_url = "{s["bintray_api"]}"
download_url = "{s["bintray_download"]}"
subject = "{s["subject"]}"
user = "{s["bintray_user"]}"
api_key = "${{BENCH_BINTRAY_KEY}}"
{extra}

[target]
url = "{t["artifactory"]}"
user = "{t["artifactory_user"]}"
password = "${{BENCH_ARTIFACTORY_PASSWORD}}"

[store]
path = "state.db"
"""


async def _files(ep: Endpoints, every: int) -> list[tuple[str, str, int]]:
    """(repo, path, size) of every ``every``-th file (by path) of the repositories ``bench*``."""
    async with open_session(16) as session:
        found = []
        for repo in ep["repos"]:
            files = sorted(await list_file_paths(session, ep, repo))
            found += [(repo, path, size) for path, size in files[::every]]
    return found


async def _naive_copy(ep: Endpoints, files: list[tuple[str, str, int]]) -> tuple[int, int]:
    """Stream each file from Bintray into the target, 16 at a time, nothing else; (files, bytes).

    Run after the migration, it is the baseline the engine is divided by: the same bytes
    through the same two emulator processes with the least client work possible."""
    async with open_session(32) as session:
        moved = [0, 0]

        async def copy(repo: str, path: str, size: int) -> None:
            async def into_upload(chunks: AsyncIterator[bytes]) -> int:
                await upload(session, ep, repo, path, chunks, size)
                return size

            await download(session, ep, repo, path, sink=into_upload)
            moved[0] += 1
            moved[1] += size

        await run_concurrently([partial(copy, *file) for file in files], 16)
    return moved[0], moved[1]


def _timed_naive_copy(ep: Endpoints) -> dict[str, Any]:
    files = asyncio.run(_files(ep, 1))  # listed first: the baseline copies, it does not discover
    started = time.perf_counter()
    count, size = asyncio.run(_naive_copy(ep, files))
    seconds = time.perf_counter() - started
    return {
        "naive_copy": {
            "files": count,
            "bytes": size,
            "seconds": seconds,
            "files_per_s": count / seconds if seconds > 0 else 0.0,
            "mb_per_s": size / _MB / seconds if seconds > 0 else 0.0,
        }
    }


def joined_after(summary: dict[str, Any]) -> float | None:
    """When ``processes = "auto"`` added a copy process (seconds into the run), from the
    ``--json`` summary; ``None`` when none joined."""
    joined = summary.get("processes", {}).get("joined_after_seconds")
    return None if joined is None else float(joined)


def run_emulated(
    name: str,
    workdir: Path,
    *,
    profile: str,
    file_count: int | None = None,
    file_size: int | None = None,
    workers: int | None = 16,
    processes: int | None = None,
    preload_half: bool = False,
    timeout: float = 1800.0,
    faults: tuple[str, str] = ("", ""),
    engine_path: str | None = None,
    extra_config: str = "",
    naive_baseline: bool = False,
) -> dict[str, Any]:
    """One measured emulator → emulator migration; the raw figures.

    ``workers=None`` keeps the engine's default; ``processes`` names how many processes copy
    (``--processes``; ``None`` keeps the default, ``"auto"``); ``faults`` are the (Bintray,
    Artifactory) emulators' fault specs; ``engine_path`` puts another checkout's ``transfer``
    package first on the measured process's import path (a before/after comparison in one run);
    ``extra_config`` is appended to the ``[source]`` table; ``naive_baseline`` times a naive
    copy of every file through the same two emulators after the migration (``naive_copy``).
    """
    fresh_workdir(workdir)
    with (
        SandboxProcess(
            workdir / "bintray",
            profile,
            sink=True,
            file_count=file_count,
            file_size=file_size,
            faults=faults[0],
        ) as source,
        SandboxProcess(workdir / "artifactory", "tiny", sink=True, faults=faults[1]) as target,
    ):
        config = workdir / "transfer.toml"
        config.write_text(emulator_config(source, target, extra_config), encoding="utf-8")
        env = {
            "BENCH_BINTRAY_KEY": source.endpoints["bintray_key"],
            "BENCH_ARTIFACTORY_PASSWORD": target.endpoints["artifactory_password"],
        }
        if engine_path is not None:
            env["PYTHONPATH"] = engine_path
        ep = {**source.endpoints, **{k: v for k, v in target.endpoints.items() if "artif" in k}}
        expected = warm_emulator(ep)
        repos = run_measured(
            transfer_args("migrate", "-c", str(config), "--only", "repositories", "--no-progress"),
            cwd=workdir,
            env=env,
            timeout=_SETUP_TIMEOUT,
        )
        ep["repos"] = ["bench"] if profile == "bench-small" else ["bench-large"]
        preloaded = (
            asyncio.run(_naive_copy(ep, asyncio.run(_files(ep, 2)))) if preload_half else (0, 0)
        )
        cpu_before = (cpu_seconds(source.pid), cpu_seconds(target.pid))
        args = transfer_args(
            "migrate", "-c", str(config), "--only", "artifacts", "--no-progress", "--json"
        )
        if workers is not None:
            args += ["--workers", str(workers)]
        if processes is not None:
            args += ["--processes", str(processes)]
        began = time.time()
        stats = run_measured(args, cwd=workdir, env=env, timeout=timeout)
        emulator_cpu = (
            cpu_seconds(source.pid) - cpu_before[0],
            cpu_seconds(target.pid) - cpu_before[1],
        )
        baseline = _timed_naive_copy(ep) if naive_baseline else {}
    summary = parse_summary(stats.stdout)
    done = summary.get("items", {}).get("done", {"items": 0, "bytes": 0})
    times, hows = store_durations(workdir / "state.db")
    timeline = discovery_timeline(workdir / "state.db", began)
    return {
        "name": name,
        "peer": "transfer (emulators)",
        "concurrency": workers,
        "files_expected": expected,
        "files_done": done["items"],
        "bytes_done": done["bytes"],
        "preloaded_files": preloaded[0],
        "preloaded_bytes": preloaded[1],
        "how": hows,
        "ok": stats.returncode == 0 and done["items"] == expected and repos.returncode == 0,
        **figures(stats, done["bytes"], done["items"], times),
        **timeline,
        "emulator_cpu_seconds": {"bintray": emulator_cpu[0], "artifactory": emulator_cpu[1]},
        "process_joined_after": joined_after(summary),
        **baseline,
        "command": " ".join(args[2:]),
        "stderr_tail": stats.stderr_tail[-1500:] if stats.returncode else "",
    }
