"""Artifactory → Artifactory against the emulators: ``python -m benchmarks.artifactory_pair``.

``transfer sandbox serve --profile artifactory`` runs in its own process (a seeded source
Artifactory with ``--versions`` Maven versions, two files each, plus a few others, and an empty
target); ``transfer migrate --only repositories --only artifacts`` runs in another and is measured
from the outside (wall, peak RSS, CPU).  Two runs, each on a fresh pair:

* ``empty`` — the target holds nothing;
* ``half`` — about every other file's bytes (chosen by a hash of the path) are put into the
  target first, in a repository of their own (not timed), so checksum deploy can link them
  without their bytes.

Figures: files/s and MB/s over every file listed (MB = 10^6 bytes), and the share of bytes
a checksum deploy saved (``how = checksum_deploy`` in the store, over all bytes).  The load
of the machine (1-minute load average before and after) is printed with them: on a shared
2-core machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.procs import die_with_parent, run_measured, transfer_args

__all__ = ["main", "run_pair"]

_MB = 1e6
_READY_TIMEOUT = 600.0
_RESULTS = Path(__file__).parent / "results"


def _env_file(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = value.strip("'")
    return found


def _serve(workdir: Path, versions: int) -> subprocess.Popen[bytes]:
    config = workdir / "transfer.toml"
    command = transfer_args(
        "sandbox", "serve", "--profile", "artifactory", "--file-count", str(versions),
        "--write-config", str(config),
    )  # fmt: skip
    with (workdir / "sandbox.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    deadline = time.monotonic() + _READY_TIMEOUT
    while "target login" not in (workdir / "sandbox.log").read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((workdir / "sandbox.log").read_text(errors="replace"))
        time.sleep(0.1)
    return process


async def _preload_half(config: dict[str, Any], env: dict[str, str]) -> tuple[int, int]:
    """About every other source file's bytes into the target's ``preload`` repository."""
    source, target = config["source"], config["target"]
    s_auth = {
        "Authorization": aiohttp.encode_basic_auth(source["user"], env["TRANSFER_SOURCE_PASSWORD"])
    }
    t_auth = {
        "Authorization": aiohttp.encode_basic_auth(
            target["user"], env["TRANSFER_ARTIFACTORY_PASSWORD"]
        )
    }
    query = (
        'items.find({"type":"file"}).include("repo","path","name")'
        '.sort({"$asc":["repo","path","name"]})'
    )
    moved = [0, 0]
    async with aiohttp.ClientSession(raise_for_status=True) as http:
        async with http.post(
            f"{source['url']}/api/search/aql",
            data=query,
            headers={**s_auth, "Content-Type": "text/plain"},
        ) as resp:
            rows = (await resp.json())["results"]
        repo = {"key": "preload", "rclass": "local", "packageType": "generic"}
        async with http.put(f"{target['url']}/api/repositories/preload", json=repo, headers=t_auth):
            pass
        for index, row in enumerate(rows):
            path = row["name"] if row["path"] == "." else f"{row['path']}/{row['name']}"
            if hashlib.sha1(f"{row['repo']}/{path}".encode()).digest()[0] % 2:
                continue  # about every other file, whatever the order of jars and POMs
            async with http.get(f"{source['url']}/{row['repo']}/{path}", headers=s_auth) as resp:
                body = await resp.read()
            async with http.put(f"{target['url']}/preload/{index}.bin", data=body, headers=t_auth):
                moved[0] += 1
                moved[1] += len(body)
    return moved[0], moved[1]


def _store_figures(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT state, how, count(*), sum(size) FROM items GROUP BY state, how")
        by_how = {(state, how or ""): (n, size or 0) for state, how, n, size in rows}
    finally:
        conn.close()
    files = sum(n for n, _ in by_how.values())
    size = sum(b for _, b in by_how.values())
    linked = sum(b for (_, how), (_, b) in by_how.items() if how == "checksum_deploy")
    done = sum(n for (state, _), (n, _) in by_how.items() if state == "done")
    return {"files": files, "bytes": size, "done": done, "checksum_deploy_bytes": linked}


def run_pair(workdir: Path, versions: int, *, half: bool) -> dict[str, Any]:
    """One measured migration on a fresh pair (and a fresh ``workdir``); the figures."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    process = _serve(workdir, versions)
    try:
        config_path = workdir / "transfer.toml"
        config = tomllib.loads(config_path.read_text())
        env = _env_file(config_path.with_name(config_path.name + ".env"))
        preloaded = asyncio.run(_preload_half(config, env)) if half else (0, 0)
        load_before = os.getloadavg()[0]
        stats = run_measured(
            transfer_args(
                "migrate", "-c", str(config_path), "--only", "repositories", "--only", "artifacts",
                "--no-progress",
            ),
            cwd=workdir,
            env=env,
            timeout=1800,
        )  # fmt: skip
        load_after = os.getloadavg()[0]
    finally:
        process.terminate()
        process.wait(10)
    if stats.returncode != 0:
        raise RuntimeError(stats.stderr_tail)
    found = _store_figures(workdir / "transfer-state.db")
    wall = stats.wall_seconds
    return {
        "scenario": "half" if half else "empty",
        "files": found["files"],
        "bytes": found["bytes"],
        "done": found["done"],
        "wall_seconds": wall,
        "files_per_second": found["files"] / wall,
        "mb_per_second": found["bytes"] / _MB / wall,
        "saved_share": found["checksum_deploy_bytes"] / max(found["bytes"], 1),
        "preloaded_files": preloaded[0],
        "peak_rss_mb": stats.peak_rss_bytes / _MB,
        "cpu_seconds": stats.cpu_seconds,
        "load_before": load_before,
        "load_after": load_after,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run both scenarios, print a table, write ``results/artifactory-pair-<stamp>.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=1000, help="Maven versions (2 files each)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/transfer-bench-a2a"))
    args = parser.parse_args(argv)
    runs = [
        run_pair(args.workdir / name, args.versions, half=name == "half")
        for name in ("empty", "half")
    ]
    print("| scenario | files | MB | files/s | MB/s | bytes saved by checksum deploy | load |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['scenario']} | {r['files']} | {r['bytes'] / _MB:.1f} | "
            f"{r['files_per_second']:.0f} | {r['mb_per_second']:.1f} | {r['saved_share']:.0%} | "
            f"{r['load_before']:.1f} → {r['load_after']:.1f} |"
        )
    _RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (_RESULTS / f"artifactory-pair-{stamp}.json").write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
