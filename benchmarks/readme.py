"""The README's figures in one run: ``python -m benchmarks.readme [--quick] [--force]``.

One fixed set of scenarios, run back to back in one process tree so that every ratio compares
figures taken in the same run (see :mod:`benchmarks.run` for what each scenario does):

* ``large`` (3 × 1 GiB), ``small`` (10,000 files), ``mixed`` (2,000 files): curl pipes,
  rclone, the naive script and ``transfer`` through nginx at N = 16, ``transfer`` between the
  emulators too (large, small), followed by a naive copy of the same files through the same
  two emulator processes, the baseline it is divided by; on ``large`` also ``transfer`` with
  two copy processes and the two aiohttp floors (:mod:`benchmarks.stream_copy`);
* ``small@20ms`` — 1,000 small files through :mod:`benchmarks.relay` adding 20 ms per round
  trip, every peer;
* ``half`` — small between the emulators with every other file already in the target;
* ``wan`` (10,000 files, 100 ms per Bintray API call, 30 ms otherwise), ``discovery``
  (20,000 files, 150 ms per API call) and ``many`` (100,000 files, measured as
  ``python -m benchmarks.run many`` measures it: :func:`benchmarks.many.run_many`).

Trimmed to keep it near 20 minutes on a quiet 2-core machine (each trim is printed in the
README): rclone does not run on the 10,000 small files (~30 files/s: 5+ minutes alone; it runs
on ``small@20ms`` and ``mixed``), ``small@20ms`` has 1,000 files (the naive script pays ~4 round
trips per file), there is no concurrency sweep, and discovery covers 20,000 files, not 100,000.

The run records the commit (and uncommitted code changes), the exact command, and the machine's
load before and after (:mod:`benchmarks.machine_load`: a run is marked busy when the load was
high before it or other processes took a share of the cores during it). The raw record goes to
``benchmarks/results/readme-<timestamp>.json``; the block between the README's markers is
rewritten from it (:mod:`benchmarks.readme_block`). A ``--quick`` run, or one where anything
failed, does not touch the README unless ``--force``; ``--render RECORD`` rewrites the block
from a recorded run without running anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.discovery import run_discovery_rate
from benchmarks.machine_load import LoadSample, load_record
from benchmarks.many import run_many
from benchmarks.procs import REPO_ROOT, new_workdir
from benchmarks.readme_block import failures, refusal, render_block, rewrite
from benchmarks.results import machine_info, write_json
from benchmarks.scenarios import PeerSizes, available_peers, run_scenario, scenario_label
from benchmarks.wan import WAN_API_MS, WAN_OTHER_MS, run_wan

__all__ = ["FULL", "QUICK", "ReadmeSizes", "main"]

GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True, slots=True)
class ReadmeSizes:
    """How big each scenario of the README set is."""

    large_size: int  # bytes of each of bench-large's three files
    small_count: int
    relay_small_count: int  # files of small through the relay
    mixed_count: int
    concurrency: int  # every peer's N
    rtt_ms: float  # added round-trip time of the relayed small run
    wan_count: int
    discovery_count: int
    many_count: int


FULL = ReadmeSizes(GiB, 10_000, 1_000, 2_000, 16, 20.0, 10_000, 20_000, 100_000)
QUICK = ReadmeSizes(16 * MiB, 300, 60, 100, 16, 20.0, 300, 500, 2_000)
_FULL_TRIMS = (
    "rclone does not run on the 10,000 small files (~30 files/s here: 5+ minutes alone; it runs "
    "on small@20ms and mixed)",
    "small@20ms has 1,000 files (the naive script pays ~4 round trips per file)",
    "no concurrency sweep (`python -m benchmarks.run small` sweeps N = 4–32)",
    "discovery covers 20,000 files, not 100,000",
)
_TRIMMED_PEERS = {"small": {"rclone": "trimmed: 5+ minutes on 10,000 files"}}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.readme",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes; README left alone")
    parser.add_argument(
        "--force", action="store_true", help="write the README from a quick or failed run too"
    )
    parser.add_argument(
        "--readme", type=Path, default=REPO_ROOT / "README.md", help="the README to rewrite"
    )
    parser.add_argument(
        "--render", type=Path, metavar="RECORD", help="rewrite from this recorded run, run nothing"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results", metavar="DIR"
    )
    parser.add_argument("--workdir", type=Path, help="keep logs and stores here (default: temp)")
    parser.add_argument(
        "--data-dir", type=Path, help="materialise files here (default: /dev/shm if roomy)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per measured run, s")
    return parser


def _code_changes() -> list[str]:
    """Uncommitted changes outside the README (which this command itself rewrites)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":(exclude)README.md"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


def _steps(
    sizes: ReadmeSizes, workdir: Path, args: argparse.Namespace, record: dict[str, Any]
) -> list[tuple[str, Callable[[], None]]]:
    nginx_problems, skipped = available_peers()
    problem = "; ".join(nginx_problems.values())
    if problem:  # the peers are half the set: a README without them must not be written
        record["errors"].append({"step": "nginx peers", "error": f"not run: {problem}"})
    n = sizes.concurrency

    def peers(scenario: str, small_count: int, rtt: float, emulated: bool) -> Callable[[], None]:
        label = scenario_label(scenario, rtt)
        not_run = {**skipped, **_TRIMMED_PEERS.get(label, {})} if not args.quick else skipped
        if problem:
            not_run = dict.fromkeys(("curl", "rclone", "naive"), f"nginx: {problem}")
        record["skipped"][label] = not_run
        peer_sizes = PeerSizes(small_count, sizes.mixed_count, sizes.large_size, n, (n,), (rtt,))

        def step() -> None:
            record["runs"].extend(
                run_scenario(
                    scenario,
                    peer_sizes,
                    workdir / label,
                    nginx_problems=nginx_problems,
                    skipped=not_run,
                    timeout=args.timeout,
                    data_dir=args.data_dir,
                    emulated=emulated,
                    naive_baseline=emulated and scenario != "half",
                )
            )

        return step

    def wan() -> None:
        record["engine"].extend(
            run_wan(
                workdir,
                file_count=sizes.wan_count,
                engines={"this": None, "processes=2": None},
                processes={"processes=2": 2},
                timeout=args.timeout,
            )
        )

    def discovery() -> None:
        record["engine"].extend(
            run_discovery_rate(workdir / "discovery", file_count=sizes.discovery_count)
        )

    def many() -> None:
        record["engine"].append(
            run_many(workdir / "many", file_count=sizes.many_count, timeout=args.timeout)
        )

    return [
        ("large", peers("large", sizes.small_count, 0.0, True)),
        ("small", peers("small", sizes.small_count, 0.0, True)),
        (
            scenario_label("small", sizes.rtt_ms),
            peers("small", sizes.relay_small_count, sizes.rtt_ms, False),
        ),
        ("mixed", peers("mixed", sizes.small_count, 0.0, False)),
        ("half", peers("half", sizes.small_count, 0.0, True)),
        ("wan", wan),
        ("discovery", discovery),
        ("many", many),
    ]


def _command(argv: Sequence[str]) -> str:
    return shlex.join(["python", "-m", "benchmarks.readme", *argv])


def run_set(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Run the README set once; the JSON-ready record (failures recorded, not raised)."""
    sizes = QUICK if args.quick else FULL
    record: dict[str, Any] = {
        "command": _command(argv),
        "quick": args.quick,
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine_info(),
        "code_changes": _code_changes(),
        "sizes": {**asdict(sizes), "wan_latency_ms": [WAN_API_MS, WAN_OTHER_MS]},
        "trimmed": [] if args.quick else list(_FULL_TRIMS),
        "units": "MB = 10^6 bytes; ratios = transfer ÷ the other, same run",
        "skipped": {},
        "runs": [],
        "engine": [],
        "errors": [],
        "step_seconds": {},
    }
    workdir = args.workdir or new_workdir("transfer-readme-")
    before = LoadSample.now()
    _say(f"load before: {before.load[0]:.2f} (1 min) on {before.cpus} cores")
    try:
        steps = _steps(sizes, workdir, args, record)
        for index, (name, step) in enumerate(steps, 1):
            _say(f"[{index}/{len(steps)}] {name} ...")
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:  # one broken scenario must not lose the others' figures
                record["errors"].append(
                    {"step": name, "error": f"{type(exc).__name__}: {exc}"[:400]}
                )
                _say(f"  {name} failed: {exc}")
            record["step_seconds"][name] = round(time.perf_counter() - started, 1)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    after = LoadSample.now()
    record["seconds"] = round(after.at - before.at, 1)
    record["load"] = load_record(before, after)
    return record


def _write_readme(path: Path, record: dict[str, Any], force: bool) -> int:
    block = render_block(record)
    print(block)
    reason = refusal(record)
    if reason is not None and not force:
        _say(f"{path} not rewritten: {reason} (--force writes it anyway)")
        return 1 if failures(record) else 0
    try:
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, block)
    except (OSError, ValueError) as exc:
        _say(f"cannot rewrite {path}: {exc}")
        return 2
    if new != text:
        path.write_text(new, encoding="utf-8")
    _say(f"{path}: benchmark block {'rewritten' if new != text else 'already up to date'}")
    return 1 if failures(record) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the README set (or load a recorded one), record it, rewrite the README block."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(arguments)
    if args.render is not None:
        try:
            record = json.loads(args.render.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _say(f"cannot read {args.render}: {exc}")
            return 2
        return _write_readme(args.readme, record, args.force)
    if not args.readme.is_file():
        _say(f"{args.readme}: no such README")
        return 2
    try:
        record = run_set(args, arguments)
    except KeyboardInterrupt:
        _say("stopped: no README written")
        return 4
    path = args.results_dir / f"readme-{time.strftime('%Y%m%dT%H%M%S')}.json"
    write_json(path, record)
    _say(f"raw results: {path} ({record['seconds'] / 60:.1f} min)")
    return _write_readme(args.readme, record, args.force)


if __name__ == "__main__":
    raise SystemExit(main())
