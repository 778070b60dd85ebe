"""Run the benchmarks: ``python -m benchmarks.run [--quick] [SCENARIO...]`` (or
``python benchmarks/run.py``) from the repository root.

Scenarios (all by default; the emulator ceiling always runs first, it is every ratio's baseline):

* ``ceiling`` — the emulators alone, driven by plain aiohttp (issue 2 §8).
* ``large``   — ``bench-large`` (three files of 1 GiB): MB/s and peak RSS (target < 150 MB).
* ``many``    — ``bench-small`` with 100,000 files: files/s and peak RSS (target < 200 MB).
* ``small``   — ``bench-small`` (10,000 files of 1-64 KiB) at 4, 8, 16 and 32 workers: files/s
  (target >= 300 files/s on a 2-core machine, emulators included).

``--quick`` shrinks everything (64 MiB files, 5,000 files for ``many``, 2,000 for ``small`` at
8 and 16 workers) to finish in about a minute. Raw results go to
``benchmarks/results/<timestamp>.json``; a table is printed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ceiling import measure_ceiling
from benchmarks.engine import run_engine
from benchmarks.procs import REPO_ROOT
from benchmarks.results import machine_info, render_table, rows_for, write_json

__all__ = ["SCENARIOS", "Sizes", "main"]

SCENARIOS = ("ceiling", "large", "many", "small")
GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each scenario is."""

    ceiling_size: int  # bytes of the large ceiling transfers
    ceiling_count: int  # files of the small ceiling transfers
    large_size: int  # bytes of each of bench-large's three files
    many_count: int
    small_count: int
    workers: tuple[int, ...]


FULL = Sizes(GiB, 5_000, GiB, 100_000, 10_000, (4, 8, 16, 32))
QUICK = Sizes(64 * MiB, 500, 64 * MiB, 5_000, 2_000, (8, 16))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--ceiling-size", type=int, metavar="BYTES")
    parser.add_argument("--ceiling-count", type=int, metavar="N")
    parser.add_argument("--large-size", type=int, metavar="BYTES", help="bench-large file size")
    parser.add_argument("--many-count", type=int, metavar="N")
    parser.add_argument("--small-count", type=int, metavar="N")
    parser.add_argument(
        "--workers", metavar="N,N", help="worker counts for `small` (default 4,8,16,32)"
    )
    parser.add_argument(
        "--pyinstrument",
        choices=("text", "html"),
        help="also profile one `small` run (first worker count) with pyinstrument",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results", metavar="DIR"
    )
    parser.add_argument("--workdir", type=Path, help="keep sandboxes' files here (default: temp)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per migrate, seconds")
    return parser


def _sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    overrides: dict[str, Any] = {
        key: getattr(args, key)
        for key in ("ceiling_size", "ceiling_count", "large_size", "many_count", "small_count")
        if getattr(args, key) is not None
    }
    if args.workers:
        overrides["workers"] = tuple(int(n) for n in args.workers.split(","))
    return replace(sizes, **overrides)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _engine_runs(
    chosen: Sequence[str], sizes: Sizes, workdir: Path, args: argparse.Namespace, stamp: str
) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    large = None if sizes.large_size == GiB else sizes.large_size
    if "large" in chosen:
        _say(f"large: bench-large, 3 files of {sizes.large_size:,} bytes ...")
        runs.append(
            run_engine(
                "large",
                workdir / "large",
                profile="bench-large",
                file_size=large,
                timeout=args.timeout,
            )
        )
    if "many" in chosen:
        _say(f"many: bench-small, {sizes.many_count:,} files ...")
        runs.append(
            run_engine(
                f"many {sizes.many_count}",
                workdir / "many",
                profile="bench-small",
                file_count=sizes.many_count,
                timeout=args.timeout,
            )
        )
    if "small" in chosen:
        for workers in sizes.workers:
            _say(f"small: bench-small, {sizes.small_count:,} files, {workers} workers ...")
            runs.append(
                run_engine(
                    f"small {sizes.small_count} w{workers}",
                    workdir / f"small-w{workers}",
                    profile="bench-small",
                    file_count=sizes.small_count,
                    workers=workers,
                    timeout=args.timeout,
                )
            )
    if args.pyinstrument:
        workers = sizes.workers[0]
        out = args.results_dir / f"{stamp}-small-w{workers}.pyinstrument.{args.pyinstrument}"
        args.results_dir.mkdir(parents=True, exist_ok=True)
        _say(f"profiling: small, {workers} workers, pyinstrument -> {out}")
        profiled = run_engine(
            f"small {sizes.small_count} w{workers} (pyinstrument)",
            workdir / "small-profiled",
            profile="bench-small",
            file_count=sizes.small_count,
            workers=workers,
            timeout=args.timeout,
            profile_to=out,
        )
        profiled["profile_output"] = str(out)
        runs.append(profiled)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios, print the table, write the JSON; 1 if a run did not complete."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; expected {', '.join(SCENARIOS)}")
    chosen = args.scenarios or list(SCENARIOS)
    sizes = _sizes(args)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="transfer-bench-"))
    started = time.perf_counter()
    try:
        _say(f"ceiling: {sizes.ceiling_size:,} bytes, then {sizes.ceiling_count:,} small files ...")
        ceiling = measure_ceiling(
            workdir / "ceiling", large_size=sizes.ceiling_size, small_count=sizes.ceiling_count
        )
        runs = _engine_runs(chosen, sizes, workdir, args, stamp)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    record = {
        "started": stamp,
        "seconds": time.perf_counter() - started,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "sizes": {k: getattr(sizes, k) for k in Sizes.__slots__},
        "units": "MB = 10^6 bytes; peak RSS = max(ru_maxrss, polled VmHWM) of the migrate process",
        "ceiling": ceiling,
        "scenarios": runs,
    }
    path = args.results_dir / f"{stamp}.json"
    write_json(path, record)
    print(render_table(rows_for(ceiling, runs)))
    print(f"\nraw results: {path}")
    failed = [r["name"] for r in runs if not r["ok"]]
    for run in runs:
        if not run["ok"]:
            print(f"{run['name']}: did not complete (exit {run['returncode']})", file=sys.stderr)
            print(run["stderr_tail"], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
