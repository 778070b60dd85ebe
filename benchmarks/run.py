"""Run the benchmarks: ``python -m benchmarks.run [--quick] [SCENARIO...]`` (or
``python benchmarks/run.py``) from the repository root.

Peer scenarios (the default: all four), the same files copied by every peer in the same run —
``curl | curl -T -`` pipes (the raw limit), rclone, a naive sequential script, and ``transfer``
with full verification and checkpointing — through nginx, plus ``transfer`` between the
emulators (each in its own process, Artifactory in sink mode):

* ``small`` — 10,000 files of 1-64 KiB; ``curl`` and ``transfer`` also at 4, 8, 16, 32.
* ``mixed`` — 2,000 files, 80 % of 1-64 KiB, 18 % up to 2 MiB, 2 % of 8-32 MiB (nginx only).
* ``large`` — three files of 1 GiB (``--large-size``); ``transfer`` also with two copy processes,
  and two floors (:mod:`benchmarks.stream_copy`): each GET streamed into its PUT with plain
  aiohttp, without and with sha256 of every byte — what Python itself reaches here.
* ``half``  — ``small`` between the emulators with every other file already in the target.

``--rtt 0,20,80`` runs the nginx peers again behind :mod:`benchmarks.relay`, a userspace TCP relay
that adds that round-trip time to every connection of every peer alike (scenario ``small@20ms``
and so on); the relay's own CPU is reported apart from the peer's.

Engine-only scenarios (by name): ``ceiling`` (the emulators alone, plain aiohttp), ``many``
(``bench-small`` with ``--many-count`` files, 100,000 by default, 1,000,000 for issue 12:
peak RSS and its time series, the emulators' RSS, store bytes per file, files/s per minute and
the last minute's over the first's, time to first file; see :mod:`benchmarks.many`) and
``wan`` (``bench-small`` between the emulators with 100 ms on every Bintray API call and 30 ms
on every other request, default settings: files/s and discovery time; ``--wan-before DIR``
measures the ``transfer`` package of another checkout too, back to back, for a before/after pair
on the same load) and ``discovery``
(discovery alone at 150 ms per Bintray API call over ``--discovery-count`` files, 100 per
package: files/s with and without file attributes).

nginx and rclone are installed with apt-get when missing (as root), or skipped with the reason
printed. ``--quick`` shrinks everything (1,000 small files, 300 mixed, 64 MiB large files,
N in 8 and 16). Raw results go to ``benchmarks/results/<timestamp>.json``, the chart to
``<timestamp>.png``; a table and the ratios are printed. The README's figures come from
``python -m benchmarks.readme`` instead: one fixed set of these scenarios in one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ceiling import measure_ceiling
from benchmarks.discovery import discovery_table, run_discovery_rate
from benchmarks.many import many_table, run_many
from benchmarks.materialise import DataSet
from benchmarks.nginx import NginxServer
from benchmarks.peers import profile_transfer
from benchmarks.procs import REPO_ROOT, new_workdir
from benchmarks.profiling import summarise
from benchmarks.report import chart, peer_table, ratio_table, ratios
from benchmarks.results import machine_info, render_table, rows_for, write_json
from benchmarks.scenarios import PEER_SCENARIOS, PeerSizes, available_peers, run_scenario
from benchmarks.wan import WAN_API_MS, WAN_OTHER_MS, run_wan, wan_table

__all__ = ["SCENARIOS", "Sizes", "main"]

SCENARIOS = (*PEER_SCENARIOS, "ceiling", "many", "wan", "discovery")
GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each scenario is."""

    small_count: int
    mixed_count: int
    large_size: int  # bytes of each of bench-large's three files
    concurrency: int  # N of every peer in the comparisons
    sweep: tuple[int, ...]  # curl and transfer on `small` also run at these
    ceiling_size: int  # bytes of the large ceiling transfers
    ceiling_count: int  # files of the small ceiling transfers
    many_count: int
    rtts: tuple[float, ...] = (0.0,)  # added round-trip times (ms) of the nginx peer runs


FULL = Sizes(10_000, 2_000, GiB, 16, (4, 8, 16, 32), GiB, 5_000, 100_000)
QUICK = Sizes(1_000, 300, 64 * MiB, 16, (8, 16), 64 * MiB, 500, 5_000)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--small-count", type=int, metavar="N")
    parser.add_argument("--mixed-count", type=int, metavar="N")
    parser.add_argument("--large-size", type=int, metavar="BYTES", help="bench-large file size")
    parser.add_argument("--concurrency", type=int, metavar="N", help="every peer's N (16)")
    parser.add_argument("--sweep", metavar="N,N", help="N for curl and transfer on small")
    parser.add_argument(
        "--rtt",
        metavar="MS,MS",
        help="added round-trip times for the nginx peers, through benchmarks.relay (0)",
    )
    parser.add_argument("--ceiling-size", type=int, metavar="BYTES")
    parser.add_argument("--ceiling-count", type=int, metavar="N")
    parser.add_argument("--many-count", type=int, metavar="N", help="many: files (100,000)")
    parser.add_argument(
        "--many-cold", action="store_true", help="many: no digest warm-up (done in the run)"
    )
    parser.add_argument(
        "--skip", metavar="PEER,PEER", default="", help="peers not to run (curl,rclone,naive)"
    )
    parser.add_argument(
        "--pyinstrument",
        choices=("text", "html"),
        help="also profile transfer (nginx -> nginx) on small and large with pyinstrument",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="also profile transfer (nginx -> nginx) on small and large with py-spy (native "
        "frames, every thread; pip install py-spy): collapsed stacks and a CPU summary",
    )
    parser.add_argument(
        "--perf",
        action="store_true",
        help="also profile transfer (nginx -> nginx) on small and large with perf: each "
        "shared object's share of the CPU (hashing, kernel copies, interpreter, memmove)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results", metavar="DIR"
    )
    parser.add_argument("--workdir", type=Path, help="keep logs and stores here (default: temp)")
    parser.add_argument(
        "--data-dir", type=Path, help="materialise files here (default: /dev/shm if roomy)"
    )
    parser.add_argument(
        "--wan-before",
        type=Path,
        metavar="DIR",
        help="wan: also measure the transfer package of this checkout (before/after)",
    )
    parser.add_argument(
        "--wan-latency",
        default=f"{WAN_API_MS:g},{WAN_OTHER_MS:g}",
        metavar="API_MS,OTHER_MS",
        help="wan: latency of Bintray API calls and of every other request",
    )
    parser.add_argument(
        "--wan-workers",
        type=int,
        metavar="N",
        help="wan: also run this checkout with N copy workers (where the copy's ceiling is)",
    )
    parser.add_argument(
        "--wan-processes",
        type=int,
        metavar="N",
        help="wan: also run this checkout with N copy processes (--processes N)",
    )
    parser.add_argument(
        "--discovery-count", type=int, default=100_000, metavar="N", help="discovery: files"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per measured run, s")
    return parser


def _sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    keys: tuple[str, ...] = ("small_count", "mixed_count", "large_size", "concurrency")
    keys += ("ceiling_size", "ceiling_count", "many_count")
    overrides: dict[str, Any] = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    if args.sweep:
        overrides["sweep"] = tuple(int(n) for n in args.sweep.split(","))
    if args.rtt:
        overrides["rtts"] = tuple(float(ms) for ms in args.rtt.split(","))
    return replace(sizes, **overrides)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _profiler(args: argparse.Namespace, sizes: Sizes, stamp: str, notes: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    suffixes = [f"pyinstrument.{args.pyinstrument}"] if args.pyinstrument else []
    suffixes += ["py-spy.txt"] if args.py_spy else []
    suffixes += ["perf.data"] if args.perf else []
    if not suffixes:
        return None

    def hook(scenario: str, data: DataSet, nginx: NginxServer, workdir: Path) -> None:
        if scenario not in ("small", "large"):
            return
        args.results_dir.mkdir(parents=True, exist_ok=True)
        for suffix in suffixes:
            out = args.results_dir / f"{stamp}-{scenario}.{suffix}"
            _say(f"  {scenario}: profiling transfer N={sizes.concurrency} -> {out}")
            profiled = profile_transfer(
                data, nginx, workdir / f"profiled-{suffix}", sizes.concurrency, out, args.timeout
            )
            notes.append({"scenario": scenario, **profiled, "cpu_shares": summarise(out)})

    return hook


def _engine_only(chosen: Sequence[str], sizes: Sizes, workdir: Path, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    ceiling: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    if "ceiling" in chosen:
        _say(f"ceiling: {sizes.ceiling_size:,} bytes, then {sizes.ceiling_count:,} small files ...")
        ceiling = measure_ceiling(
            workdir / "ceiling", large_size=sizes.ceiling_size, small_count=sizes.ceiling_count
        )
    if "many" in chosen:
        _say(f"many: bench-small, {sizes.many_count:,} files ...")
        runs.append(
            run_many(
                workdir / "many",
                file_count=sizes.many_count,
                timeout=args.timeout,
                warm=not args.many_cold,
            )
        )
    if "wan" in chosen:
        api_ms, other_ms = (float(ms) for ms in args.wan_latency.split(","))
        engines: dict[str, str | None] = {}
        if args.wan_before is not None:
            engines["before"] = str(args.wan_before.resolve())
        engines["after" if engines else "this"] = None
        workers: dict[str, int] = {}
        if args.wan_workers:
            label = f"workers={args.wan_workers}"
            engines[label], workers[label] = None, args.wan_workers
        processes: dict[str, int] = {}
        if args.wan_processes:
            label = f"processes={args.wan_processes}"
            engines[label], processes[label] = None, args.wan_processes
        _say(f"wan: bench-small, {sizes.small_count:,} files, {api_ms:g} ms API latency ...")
        runs += run_wan(
            workdir,
            file_count=sizes.small_count,
            engines=engines,
            workers=workers,
            processes=processes,
            api_ms=api_ms,
            other_ms=other_ms,
            timeout=args.timeout,
        )
    if "discovery" in chosen:
        _say(f"discovery: bench-small, {args.discovery_count:,} files, 150 ms per API call ...")
        runs += run_discovery_rate(workdir / "discovery", file_count=args.discovery_count)
    return ceiling, runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen scenarios, print the tables, write JSON and PNG; 1 if a run failed."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; expected {', '.join(SCENARIOS)}")
    chosen = args.scenarios or list(PEER_SCENARIOS)
    sizes = _sizes(args)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    workdir = args.workdir or new_workdir("transfer-bench-")
    started = time.perf_counter()
    nginx_problems, skipped = available_peers() if set(chosen) & set(PEER_SCENARIOS) else ({}, {})
    for peer in filter(None, args.skip.split(",")):
        skipped[peer] = "skipped with --skip"
    for what, why in {**nginx_problems, **skipped}.items():
        _say(f"skipping {what}: {why}")
    peer_sizes = PeerSizes(
        sizes.small_count,
        sizes.mixed_count,
        sizes.large_size,
        sizes.concurrency,
        sizes.sweep,
        sizes.rtts,
    )
    profiles: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    try:
        for scenario in (s for s in PEER_SCENARIOS if s in chosen):
            runs += run_scenario(
                scenario,
                peer_sizes,
                workdir / scenario,
                nginx_problems=nginx_problems,
                skipped=skipped,
                timeout=args.timeout,
                profile_hook=_profiler(args, sizes, stamp, profiles),
                data_dir=args.data_dir,
                naive_baseline=scenario == "large",
            )
        ceiling, engine_runs = _engine_only(chosen, sizes, workdir, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    ratio_rows = ratios(runs, sizes.concurrency)
    png = chart(runs, args.results_dir / f"{stamp}.png", sizes.concurrency) if runs else None
    record = {
        "started": stamp,
        "seconds": time.perf_counter() - started,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "sizes": {k: getattr(sizes, k) for k in Sizes.__slots__},
        "units": "MB = 10^6 bytes, GB = 10^9; peak RSS = max(ru_maxrss, polled VmHWM) of the "
        "measured process (for curl and xargs: the largest single process of the pipeline); "
        "CPU = user + system of the process and its children",
        "skipped": {**nginx_problems, **skipped},
        "runs": runs,
        "ratios": ratio_rows,
        "profiles": profiles,
        "chart": str(png) if png else None,
        "ceiling": ceiling,
        "scenarios": engine_runs,
    }
    path = args.results_dir / f"{stamp}.json"
    write_json(path, record)
    if runs:
        print(peer_table(runs))
        print()
        print(ratio_table(ratio_rows, runs))
    wan_runs = [r for r in engine_runs if r["name"].startswith("wan")]
    discovery_runs = [r for r in engine_runs if r["name"].startswith("discovery")]
    engine_runs_table = [r for r in engine_runs if r not in wan_runs + discovery_runs]
    if ceiling or engine_runs_table:
        print()
        print(render_table(rows_for(ceiling, engine_runs_table)))
    if wan_runs:
        print()
        print(wan_table(wan_runs))
    if discovery_runs:
        print()
        print(discovery_table(discovery_runs))
    for run in (r for r in engine_runs if r["name"].startswith("many")):
        print()
        print(many_table(run))
    for note in profiles:
        if note.get("cpu_shares"):
            shares = ", ".join(f"{k} {v:.0%}" for k, v in note["cpu_shares"].items() if v < 1)
            print(f"\nprofile {note['scenario']} ({note['profile_output']}): {shares}")
    print(f"\nraw results: {path}" + (f"\nchart: {png}" if png else ""))
    failed = [r for r in runs + engine_runs if not r["ok"]]
    for run in failed:
        label = f"{run.get('scenario', '')} {run.get('peer', run.get('name', ''))}".strip()
        print(f"{label}: did not complete (exit {run.get('returncode')})", file=sys.stderr)
        print(run.get("stderr_tail", ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
