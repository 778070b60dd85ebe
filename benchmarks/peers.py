"""The peers, each measured as a child process copying the same files from nginx to nginx.

* ``curl`` — the raw limit: ``curl -s SRC | curl -s -T - DST`` per file, N at a time with
  ``xargs -P N``, no verification; the uploading curl's ``time_total`` is the file's time.
* ``rclone`` — ``rclone copy`` from the HTML listing (``:http:``) to WebDAV (``:webdav:``)
  with ``--transfers N --checkers N``; no per-file times (its log has none): reported n/a.
* ``naive`` — :mod:`benchmarks.naive`, sequential.
* ``transfer`` — ``transfer migrate`` through the http source and the webdav target, with its
  full verification (the file list and each file's sha256 from the data set's manifest, which
  nginx serves beside the files; the sha256 is computed in flight and compared) and its
  checkpoint store; per-file times are the store's own ``duration`` of each item.
* ``transfer-p2`` — the same with ``--processes 2``: two processes copy (run on ``large``,
  where one process is bound by its core).

Every run starts from an empty upload folder and ends with a check that every file arrived
with the same bytes (``diff -rq`` of the two trees, and a count).
"""

from __future__ import annotations

import functools
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.engine import parse_summary
from benchmarks.materialise import DataSet
from benchmarks.nginx import NginxServer
from benchmarks.procs import (
    REPO_ROOT,
    ProcessStats,
    cpu_seconds,
    fresh_workdir,
    run_measured,
    transfer_args,
)
from benchmarks.profiling import profiled_args

__all__ = [
    "FLOORS",
    "PEERS",
    "TRANSFER_PROCESSES",
    "discovery_timeline",
    "figures",
    "profile_transfer",
    "rclone_args",
    "run_peer",
    "store_durations",
]

PEERS = ("curl", "rclone", "naive", "transfer")
TRANSFER_PROCESSES = "transfer-p2"
"""``transfer`` with two copy processes (``--processes 2``)."""
FLOORS = ("aiohttp", "aiohttp+sha256")
"""The least a Python client does to stream the files (:mod:`benchmarks.stream_copy`),
without and with hashing every byte: ceilings for ``transfer`` on the large files."""
_MB = 1e6
_CURL_PIPE = (
    'curl -s -f "$0" | curl -s -f -T - -o /dev/null -w "%{time_total}\\n" "$1" '
    '|| echo "FAILED $0" >&2'
)


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def figures(
    stats: ProcessStats, moved: float, files_done: int, times: list[float] | None
) -> dict[str, Any]:
    """The figures every peer reports, from its process stats, the bytes it moved, and its
    per-file times (``None``: not available)."""
    wall = stats.wall_seconds
    return {
        "wall_seconds": wall,
        "files_done": files_done,
        "mb_per_s": moved / _MB / wall if wall > 0 else 0.0,
        "files_per_s": files_done / wall if wall > 0 else 0.0,
        "p50_seconds": _percentile(times, 50) if times else None,
        "p99_seconds": _percentile(times, 99) if times else None,
        "peak_rss_mb": stats.peak_rss_bytes / _MB,
        "cpu_seconds": stats.cpu_seconds,
        "cpu_s_per_gb": stats.cpu_seconds / (moved / 1e9) if moved else None,
        "returncode": stats.returncode,
    }


def _check_copy(data: DataSet, nginx: NginxServer) -> tuple[int, bool, str]:
    """(files present in the upload tree, trees identical, first differences)."""
    count = sum(1 for p in nginx.upload_dir.rglob("*") if p.is_file())
    done = subprocess.run(
        ["diff", "-rq", str(data.root), str(nginx.upload_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return count, done.returncode == 0, (done.stdout + done.stderr)[:500]


def _curl(data: DataSet, nginx: NginxServer, workdir: Path, n: int, timeout: float) -> Any:
    pairs = workdir / "curl-pairs.txt"
    with pairs.open("w", encoding="utf-8") as out:
        for path, _, _ in data.files:
            out.write(f"{nginx.json_url}/{quote(path)} {nginx.upload_url}/{quote(path)}\n")
    args = ["xargs", "-a", str(pairs), "-P", str(n), "-n", "2", "sh", "-c", _CURL_PIPE]
    stats = run_measured(args, cwd=workdir, env={}, timeout=timeout)
    times = [float(x) for x in stats.stdout.split()]
    return stats, times, {"command": " ".join(args[:8]) + f" '{_CURL_PIPE}'"}


def rclone_args(nginx: NginxServer, repo: str, n: int) -> list[str]:
    """rclone at its best honest configuration here (see the module notes in run.py)."""
    return [
        "rclone",
        "copy",
        "--http-url",
        nginx.html_url,
        f":http:{repo}/",
        f":webdav:{repo}/",
        "--webdav-url",
        nginx.upload_url,
        "--transfers",
        str(n),
        "--checkers",
        str(n),
        "--stats",
        "0",
    ]


def _rclone(data: DataSet, nginx: NginxServer, workdir: Path, n: int, timeout: float) -> Any:
    repos = sorted({path.split("/", 1)[0] for path, _, _ in data.files})
    [repo] = repos  # every data set here is one repository
    args = rclone_args(nginx, repo, n)
    stats = run_measured(args, cwd=workdir, env={"RCLONE_CONFIG": "/dev/null"}, timeout=timeout)
    return stats, None, {"command": " ".join(args)}


def _script(
    script: str,
    options: list[str],
    data: DataSet,
    nginx: NginxServer,
    workdir: Path,
    timeout: float,
) -> Any:
    """A copy script of ours (``benchmarks/<script>``): ``OPTIONS MANIFEST SRC DST TIMES``."""
    times_file = workdir / "times.txt"
    args = [
        sys.executable,
        str(REPO_ROOT / "benchmarks" / script),
        *options,
        str(data.manifest),
        nginx.json_url,
        nginx.upload_url,
        str(times_file),
    ]
    stats = run_measured(args, cwd=workdir, env={}, timeout=timeout)
    times = [float(x) for x in times_file.read_text().split()] if times_file.exists() else []
    shown = " ".join(["python", f"benchmarks/{script}", *options])
    return stats, times, {"command": f"{shown} MANIFEST SRC DST TIMES"}


def _naive(data: DataSet, nginx: NginxServer, workdir: Path, n: int, timeout: float) -> Any:
    return _script("naive.py", [], data, nginx, workdir, timeout)


def _stream_copy(
    data: DataSet, nginx: NginxServer, workdir: Path, n: int, timeout: float, *, sha256: bool
) -> Any:
    options = [*(["--sha256"] if sha256 else []), "-n", str(n)]
    return _script("stream_copy.py", options, data, nginx, workdir, timeout)


def store_durations(db: Path) -> tuple[list[float], dict[str, int]]:
    """Per-item seconds of the done items, and how they were done, from a SQLite store."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT duration, how FROM items WHERE state = 'done'").fetchall()
    hows: dict[str, int] = {}
    for _, how in rows:
        hows[how or ""] = hows.get(how or "", 0) + 1
    return [float(d) for d, _ in rows if d is not None], hows


def discovery_timeline(db: Path, began: float) -> dict[str, float | None]:
    """Seconds after ``began`` (epoch) when discovery marked its last version and when the first
    copy started and finished, from a SQLite store (``None`` where nothing was recorded)."""
    with sqlite3.connect(db) as conn:
        (last_discovered,) = conn.execute("SELECT MAX(discovered_at) FROM discovered").fetchone()
        first_start, first_done = conn.execute(
            "SELECT MIN(started_at), MIN(finished_at) FROM items WHERE state = 'done'"
        ).fetchone()

    def since(stamp: float | None) -> float | None:
        return None if stamp is None else round(float(stamp) - began, 3)

    return {
        "discovery_seconds": since(last_discovered),
        "first_copy_started": since(first_start),
        "first_copy_done": since(first_done),
    }


def _transfer(
    data: DataSet,
    nginx: NginxServer,
    workdir: Path,
    n: int,
    timeout: float,
    profile_to: Path | None = None,
    processes: int = 1,
) -> Any:
    config = workdir / "transfer.toml"
    # the manifest declares each file's sha256: full verification has a digest to compare
    # (the webdav target reports none), as a real migration has Bintray's
    manifest = nginx.manifest_url
    listing = f'api_url = "{manifest}"\n' if manifest else ""
    config.write_text(
        f"""[source]
type = "http"
download_url = "{nginx.json_url}"
{listing}subject = "bench"

[target]
type = "webdav"
url = "{nginx.upload_url}"

[store]
path = "state.db"
""",
        encoding="utf-8",
    )
    args = transfer_args(
        "migrate", "-c", str(config), "--only", "artifacts", "--no-progress", "--json"
    )
    args += ["--workers", str(n)]
    if processes > 1:
        args += ["--processes", str(processes)]
    if profile_to is not None:
        args = profiled_args(args, profile_to)
    stats = run_measured(args, cwd=workdir, env={}, timeout=timeout)
    times, hows = store_durations(workdir / "state.db")
    done = parse_summary(stats.stdout).get("items", {}).get("done", {}).get("items", 0)
    return stats, times, {"command": " ".join(args[2:]), "how": hows, "reported_done": done}


def profile_transfer(
    data: DataSet, nginx: NginxServer, workdir: Path, n: int, out: Path, timeout: float
) -> dict[str, Any]:
    """``transfer`` nginx → nginx once more, under the profiler ``out``'s name asks for
    (:func:`benchmarks.profiling.profiled_args`; its report goes to ``out``)."""
    fresh_workdir(workdir)
    nginx.reset_uploads()
    stats, _, extra = _transfer(data, nginx, workdir, n, timeout, profile_to=out)
    return {"profile_output": str(out), "wall_seconds": stats.wall_seconds, **extra}


_RUNNERS = {
    "curl": _curl,
    "rclone": _rclone,
    "naive": _naive,
    "transfer": _transfer,
    TRANSFER_PROCESSES: functools.partial(_transfer, processes=2),
    "aiohttp": functools.partial(_stream_copy, sha256=False),
    "aiohttp+sha256": functools.partial(_stream_copy, sha256=True),
}


def run_peer(
    peer: str,
    data: DataSet,
    nginx: NginxServer,
    workdir: Path,
    *,
    concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    """One measured copy of ``data`` by ``peer`` into an emptied upload folder."""
    fresh_workdir(workdir)
    nginx.reset_uploads()
    workers = nginx.worker_pids()
    server_before = sum(cpu_seconds(pid) for pid in workers)
    stats, times, extra = _RUNNERS[peer](data, nginx, workdir, concurrency, timeout)
    server_cpu = sum(cpu_seconds(pid) for pid in workers) - server_before
    copied, identical, differences = _check_copy(data, nginx)
    moved = data.total_bytes * copied / max(1, len(data.files))
    result = {
        "peer": peer,
        "concurrency": 1 if peer == "naive" else concurrency,
        "files_expected": len(data.files),
        "bytes_expected": data.total_bytes,
        "copied": copied,
        "identical": identical,
        "ok": identical and copied == len(data.files) and stats.returncode == 0,
        "differences": differences,
        "per_file_times": "n/a (rclone logs no per-file durations)" if times is None else "",
        **figures(stats, moved, copied, times),
        # what nginx's workers spent serving this peer: its cost moves with how a peer reads
        # and writes (the kernel's loopback work lands partly on either side)
        "server_cpu_s_per_gb": server_cpu / (moved / 1e9) if moved else None,
        "machine_busy": stats.machine_busy,
        **extra,
        "stderr_tail": stats.stderr_tail[-1500:] if stats.returncode else "",
    }
    return result
