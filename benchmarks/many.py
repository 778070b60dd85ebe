"""The ``many`` scenario (issue 12 §4): ``bench-small`` at up to a million files, emulator to
emulator, and whether the engine stays flat over the whole run.

Two ``transfer sandbox serve`` processes, as in :mod:`benchmarks.emulated`: one serves the
``bench-small`` organisation with ``--file-count N`` (contents generated, never stored), the
other is the Artifactory sink (sizes and checksums kept, no bytes). Digests are warmed (unless
``--many-cold``) and the target repositories created before the clock starts; then
``transfer migrate --only artifacts`` runs with the engine's default settings, and while it
runs a sampler records, every ``sample_every`` seconds, the resident memory (``VmRSS``) of the
migrating process and of both emulators, its CPU seconds, the load average, and the items done
so far (a count on the store, read-only).

Figures, beside the usual ones (wall, files/s, CPU):

* peak RSS of the migrating process (``wait4`` ``ru_maxrss``, cross-checked with VmHWM) and the
  RSS time series; the emulators' peak RSS (VmHWM at the end) and their series;
* the store's size (database plus WAL) divided by the items it holds (the files, once done);
* files/s per minute and per tenth of the files, from the store's ``finished_at`` stamps, and
  ``end_vs_start``: files done in the last 60 s of copying over those done in the first 60 s
  (both windows measured from the first and last finish, so neither start-up nor a partial
  bucket weighs in; ``None`` when the copy took under two minutes);
* the migrate's CPU milliseconds per file over each tenth of the samples: on a shared machine
  the wall-clock rate follows the load, CPU per file shows whether the engine itself slows;
* time to first byte: seconds from the migrate process's start until the first file was
  complete at the target (the store marks an item done only after the target confirmed it),
  and until the first copy started (discovery and start-up included).

A run killed by the timeout still reports what the store holds: how far it got and the trend.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.client import warm_emulator
from benchmarks.emulated import emulator_config, joined_after
from benchmarks.engine import parse_summary
from benchmarks.procs import (
    SandboxProcess,
    cpu_seconds,
    fresh_workdir,
    run_measured,
    status_bytes,
    transfer_args,
)

__all__ = ["ManySampler", "cpu_per_file", "many_table", "rate_figures", "run_many"]

_MB = 1e6
_SETUP_TIMEOUT = 600.0
_READY_TIMEOUT = 600.0  # building a million-file organisation under load
_WINDOW = 60.0  # seconds of the first and last windows, and of each per-minute bucket


def _status_mb(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` memory field in MB (0.0 once the process is gone)."""
    return (status_bytes(pid, field) or 0) / _MB


def cpu_per_file(samples: list[dict[str, Any]]) -> list[float | None]:
    """The migrate's CPU milliseconds per file done, over each tenth of the sampled run.

    Wall-clock rates on a shared machine follow its load; CPU per file does not: if it stays
    flat while files/s falls, the engine is not slowing down, the machine is.
    """
    points = [(s["migrate_cpu_s"], s["done"]) for s in samples if s.get("done") is not None]
    if len(points) < 11:
        return []
    out: list[float | None] = []
    for k in range(10):
        cpu_a, done_a = points[len(points) * k // 10]
        cpu_b, done_b = points[min(len(points) - 1, len(points) * (k + 1) // 10)]
        per_file = (cpu_b - cpu_a) * 1000 / (done_b - done_a) if done_b > done_a else None
        out.append(None if per_file is None else round(per_file, 2))
    return out


def _done_count(db: Path) -> int | None:
    """Items done so far, read-only (None before the store exists or while it is locked)."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM items WHERE state = 'done'").fetchone()
    except sqlite3.Error:
        return None
    return int(count)


class ManySampler:
    """Called on every poll of the measured process; records a sample every ``every`` seconds.

    Each sample: seconds since the migrate started, RSS (MB) of the migrating process and of
    the Bintray and Artifactory emulators, and the items done so far. ``log`` (when given)
    receives one progress line per sample, so a long run can be followed.
    """

    def __init__(
        self, db: Path, emulators: dict[str, int], every: float, log: Path | None = None
    ) -> None:
        self.db = db
        self.emulators = emulators
        self.every = every
        self.log = log
        self.samples: list[dict[str, Any]] = []
        self._started = time.monotonic()
        self._next = self._started

    def __call__(self, pid: int) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        sample: dict[str, Any] = {
            "t": round(now - self._started, 1),
            "migrate_rss_mb": _status_mb(pid, "VmRSS"),
        }
        for name, emulator in self.emulators.items():
            sample[f"{name}_rss_mb"] = _status_mb(emulator, "VmRSS")
        sample["migrate_cpu_s"] = cpu_seconds(pid)
        sample["load1"] = round(os.getloadavg()[0], 2)  # as /proc/loadavg prints it
        sample["done"] = _done_count(self.db)
        self.samples.append(sample)
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as out:
                out.write(
                    " ".join(
                        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in sample.items()
                    )
                    + "\n"
                )


def _finish_stamps(db: Path) -> list[float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT finished_at FROM items WHERE state = 'done' AND finished_at IS NOT NULL"
        ).fetchall()
    return sorted(float(stamp) for (stamp,) in rows)


def rate_figures(finished: list[float], began: float) -> dict[str, Any]:
    """Files/s per minute and per tenth of the files, ``end_vs_start``, and the first finish,
    from the sorted ``finished_at`` stamps of the done items and the migrate's start (epoch)."""
    if not finished:
        return {
            "files_per_s_by_minute": [],
            "files_per_s_by_tenth": [],
            "first_minute_files_per_s": None,
            "last_minute_files_per_s": None,
            "end_vs_start": None,
            "time_to_first_file_done_s": None,
        }
    first, last = finished[0], finished[-1]
    minutes = [0] * (int((last - first) // _WINDOW) + 1)
    for stamp in finished:
        minutes[int((stamp - first) // _WINDOW)] += 1
    # the last bucket is partial: its rate is over the seconds it covers
    tail = (last - first) - _WINDOW * (len(minutes) - 1)
    by_minute = [n / _WINDOW for n in minutes[:-1]] + [minutes[-1] / max(tail, 1.0)]
    tenths = []
    count = len(finished)
    edges = [finished[0]] + [finished[min(count - 1, count * k // 10)] for k in range(1, 11)]
    for k in range(10):
        files = count * (k + 1) // 10 - count * k // 10
        seconds = edges[k + 1] - edges[k]
        tenths.append(files / seconds if seconds > 0 else None)
    long_enough = last - first >= 2 * _WINDOW
    start_rate = sum(1 for s in finished if s < first + _WINDOW) / _WINDOW
    end_rate = sum(1 for s in finished if s > last - _WINDOW) / _WINDOW
    return {
        "files_per_s_by_minute": [round(r, 1) for r in by_minute],
        "files_per_s_by_tenth": [None if r is None else round(r, 1) for r in tenths],
        "first_minute_files_per_s": start_rate if long_enough else None,
        "last_minute_files_per_s": end_rate if long_enough else None,
        "end_vs_start": end_rate / start_rate if long_enough and start_rate else None,
        "time_to_first_file_done_s": round(first - began, 3),
    }


def _first_copy_started(db: Path, began: float) -> float | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (stamp,) = conn.execute(
            "SELECT MIN(started_at) FROM items WHERE started_at IS NOT NULL"
        ).fetchone()
    return None if stamp is None else round(float(stamp) - began, 3)


def _store_size(db: Path) -> tuple[int, int]:
    """(bytes of the database and its WAL, items it holds in any state): a run stopped early
    holds discovered items not yet copied, so bytes per file divide by the items held."""
    if not db.exists():
        return 0, 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (items,) = conn.execute("SELECT COUNT(*) FROM items").fetchone()
    files = (db, db.with_name(db.name + "-wal"))
    return sum(p.stat().st_size for p in files if p.exists()), int(items)


def _peak(samples: list[dict[str, Any]], key: str) -> float:
    return max((s[key] for s in samples), default=0.0)


def run_many(
    workdir: Path,
    *,
    file_count: int,
    timeout: float = 1800.0,
    sample_every: float = 5.0,
    workers: int | None = None,
    warm: bool = True,
) -> dict[str, Any]:
    """One measured migration of ``file_count`` files; the raw figures (``ok``: it completed).

    ``warm=False`` skips reading every file list before the clock starts: the emulator then
    computes each file's digests during discovery, inside the measured run (at a million files
    on a loaded machine the warm-up alone takes longer than the copy it would spare).
    """
    fresh_workdir(workdir)
    db = workdir / "state.db"
    with (
        SandboxProcess(
            workdir / "bintray",
            "bench-small",
            sink=True,
            file_count=file_count,
            ready_timeout=_READY_TIMEOUT,
        ) as src,
        SandboxProcess(workdir / "artifactory", "tiny", sink=True) as target,
    ):
        config = workdir / "transfer.toml"
        config.write_text(emulator_config(src, target), encoding="utf-8")
        env = {
            "BENCH_BINTRAY_KEY": src.endpoints["bintray_key"],
            "BENCH_ARTIFACTORY_PASSWORD": target.endpoints["artifactory_password"],
        }
        warm_started = time.perf_counter()
        expected = warm_emulator(src.endpoints) if warm else file_count
        warm_seconds = time.perf_counter() - warm_started if warm else None
        repos = run_measured(
            transfer_args("migrate", "-c", str(config), "--only", "repositories", "--no-progress"),
            cwd=workdir,
            env=env,
            timeout=_SETUP_TIMEOUT,
        )
        emulators = {"bintray": src.pid, "artifactory": target.pid}
        setup_rss = {k: _status_mb(p, "VmRSS") for k, p in emulators.items()}
        cpu_before = {k: cpu_seconds(p) for k, p in emulators.items()}
        args = ["migrate", "-c", str(config), "--only", "artifacts", "--no-progress", "--json"]
        if workers is not None:
            args += ["--workers", str(workers)]
        sampler = ManySampler(db, emulators, sample_every, workdir / "progress.log")
        began = time.time()
        stats = run_measured(
            transfer_args(*args), cwd=workdir, env=env, timeout=timeout, on_poll=sampler
        )
        emulator_cpu = {k: cpu_seconds(p) - cpu_before[k] for k, p in emulators.items()}
        emulator_hwm = {k: _status_mb(p, "VmHWM") for k, p in emulators.items()}
    summary = parse_summary(stats.stdout)
    done = summary.get("items", {}).get("done", {"items": 0, "bytes": 0})
    finished = _finish_stamps(db) if db.exists() else []
    files = done["items"] or len(finished)  # a killed run has no summary: count the store
    wall = stats.wall_seconds
    store_bytes, store_items = _store_size(db)
    return {
        "name": f"many {file_count}",
        "profile": "bench-small",
        "file_count": file_count,
        "workers": workers,
        "sink": True,
        "profiled": False,
        "ok": stats.returncode == 0 and done["items"] == expected and repos.returncode == 0,
        "returncode": stats.returncode,
        "files_expected": expected,
        "files_done": files,
        "bytes_done": done["bytes"],
        "wall_seconds": wall,
        "files_per_s": files / wall if wall > 0 else 0.0,
        "mb_per_s": done["bytes"] / _MB / wall if wall > 0 else 0.0,
        "peak_rss_mb": stats.peak_rss_bytes / _MB,
        "maxrss_mb": stats.maxrss_bytes / _MB,
        "polled_hwm_mb": stats.polled_hwm_bytes / _MB,
        "migrate_cpu_seconds": stats.cpu_seconds,  # its copy process's included
        "process_joined_after": joined_after(summary),
        "emulator_cpu_seconds": sum(emulator_cpu.values()),
        "emulators": {
            name: {
                "cpu_seconds": emulator_cpu[name],
                "peak_rss_mb": max(emulator_hwm[name], _peak(sampler.samples, f"{name}_rss_mb")),
                "rss_before_migrate_mb": setup_rss[name],
                "rss_at_end_mb": sampler.samples[-1][f"{name}_rss_mb"] if sampler.samples else 0,
            }
            for name in emulators
        },
        "store_bytes": store_bytes,
        "store_items": store_items,
        "store_bytes_per_file": store_bytes / store_items if store_items else None,
        **rate_figures(finished, began),
        "time_to_first_copy_started_s": _first_copy_started(db, began) if db.exists() else None,
        "migrate_cpu_ms_per_file_by_tenth": cpu_per_file(sampler.samples),
        "load_average": {
            "min": min((x["load1"] for x in sampler.samples), default=None),
            "max": max((x["load1"] for x in sampler.samples), default=None),
        },
        "rss_samples": sampler.samples,
        "sample_every_s": sample_every,
        "digest_warmup_seconds": warm_seconds,
        "digests_warmed": warm,
        "command": " ".join(args),
        "stderr_tail": stats.stderr_tail[-1500:] if stats.returncode else "",
    }


def many_table(run: dict[str, Any]) -> str:
    """The scale figures of one ``many`` run, one per line."""
    emulators = ", ".join(
        f"{name} {figures['peak_rss_mb']:,.0f} MB" for name, figures in run["emulators"].items()
    )
    ratio = run["end_vs_start"]
    lines = [
        f"{run['name']}: {run['files_done']:,} of {run['files_expected']:,} files"
        + ("" if run["ok"] else f" (INCOMPLETE, exit {run['returncode']})"),
        f"  files/s over the run        {run['files_per_s']:,.1f} ({run['wall_seconds']:,.0f} s)",
        f"  peak RSS (migrate)          {run['peak_rss_mb']:,.1f} MB (target <= 256)",
        "  copy process joined         "
        + (
            "no"
            if run.get("process_joined_after") is None
            else f"at {run['process_joined_after']:.1f} s"
        ),
        f"  peak RSS (emulators)        {emulators}",
        f"  store per file              {run['store_bytes_per_file'] or 0:,.0f} bytes"
        f" ({run['store_bytes'] / _MB:,.1f} MB)",
        f"  first / last 60 s           {run['first_minute_files_per_s'] or 0:,.1f} / "
        f"{run['last_minute_files_per_s'] or 0:,.1f} files/s, end/start "
        + (f"{ratio:.2f} (target >= 0.90)" if ratio is not None else "n/a (under 2 min)"),
        f"  files/s by tenth of files   {run['files_per_s_by_tenth']}",
        f"  migrate CPU ms per file     {run['migrate_cpu_ms_per_file_by_tenth']} (by tenth of"
        " the samples; flat = the engine is, whatever the load)",
        f"  load average (1 min)        {run['load_average']['min']}-{run['load_average']['max']}",
        f"  time to first copy started  {run['time_to_first_copy_started_s']} s; "
        f"first file done at target {run['time_to_first_file_done_s']} s",
    ]
    return "\n".join(lines)
