"""The peer scenarios: the same files copied by every peer through the same nginx, in one run.

* ``small`` — ``bench-small`` (10,000 files of 1-64 KiB): every peer at the main concurrency,
  ``curl`` and ``transfer`` also at each concurrency of the sweep; ``transfer`` emulator →
  emulator too.
* ``mixed`` — the mixed set of :func:`benchmarks.materialise.mixed_files` (nginx only: the
  emulator has no such profile).
* ``large`` — ``bench-large`` (three files, 1 GiB each by default): every peer, and ``transfer``
  emulator → emulator.
* ``half`` — ``bench-small`` emulator → emulator with every other file already in the target.

The files are materialised once per scenario under a tmpfs when there is room (``/dev/shm``),
so that no disk is measured; nginx serves and receives them; an untimed naive copy warms the
set up first (the first copy of a fresh set ran at 40-60 % speed, whichever peer made it); every
peer run starts from an empty upload folder and is checked file by file afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.emulated import run_emulated
from benchmarks.materialise import DataSet, materialise, mixed_files, profile_files
from benchmarks.nginx import DAV_EXT_MODULE, NginxServer, ensure_installed
from benchmarks.peers import FLOORS, PEERS, TRANSFER_PROCESSES, run_peer
from benchmarks.procs import new_workdir
from benchmarks.relay import LinkShape, RelayedServer

__all__ = [
    "PEER_SCENARIOS",
    "PeerSizes",
    "available_peers",
    "data_root",
    "run_scenario",
    "scenario_label",
]

PEER_SCENARIOS = ("small", "mixed", "large", "half")
_TMPFS = Path("/dev/shm")


@dataclass(frozen=True, slots=True)
class PeerSizes:
    """How big the peer scenarios are, and at which concurrencies they run."""

    small_count: int
    mixed_count: int
    large_size: int
    concurrency: int  # every peer's N in the comparisons
    sweep: tuple[int, ...]  # curl and transfer on `small` also run at these
    rtts: tuple[float, ...] = (0.0,)  # added round-trip times (ms) the nginx peers run at


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def available_peers() -> tuple[dict[str, str], dict[str, str]]:
    """(nginx problems, peer → why it is skipped); installs what is missing when root."""
    problems = ensure_installed(
        {"nginx": "nginx", str(DAV_EXT_MODULE): "libnginx-mod-http-dav-ext", "rclone": "rclone"}
    )
    nginx = {k: v for k, v in problems.items() if k == "nginx"}
    skipped: dict[str, str] = {}
    if "rclone" in problems:
        skipped["rclone"] = problems["rclone"]
    if str(DAV_EXT_MODULE) in problems:
        skipped["rclone"] = (
            "rclone's WebDAV remote needs PROPFIND: " + problems[str(DAV_EXT_MODULE)]
        )
    for tool in ("curl", "xargs", "diff"):
        if shutil.which(tool) is None:
            skipped["curl"] = f"{tool} not found"
    return nginx, skipped


def data_root(workdir: Path, needed: int, parent: Path | None = None) -> Path:
    """Where a scenario's files go: under ``parent`` when given, else a tmpfs when it has room
    for the files and a copy, else the work folder."""
    prefix = f"transfer-bench-{workdir.name}-"
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
        return new_workdir(prefix, parent)
    if _TMPFS.is_dir() and shutil.disk_usage(_TMPFS).free > 3 * needed + (256 << 20):
        return new_workdir(prefix, _TMPFS)
    root = workdir / "data"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # nginx's workers (www-data) must reach the files
    return root


def _data_for(scenario: str, sizes: PeerSizes, root: Path) -> DataSet:
    if scenario == "mixed":
        content, specs = mixed_files(sizes.mixed_count)
    elif scenario == "large":
        content, specs = profile_files("bench-large", file_size=sizes.large_size)
    else:
        content, specs = profile_files("bench-small", file_count=sizes.small_count)
    return materialise(content, specs, root / "files")


def scenario_label(scenario: str, rtt_ms: float) -> str:
    """``small`` at no added latency, ``small@20ms`` through a relay adding 20 ms per round trip."""
    return scenario if not rtt_ms else f"{scenario}@{rtt_ms:g}ms"


def _peer_runs(
    scenario: str,
    data: DataSet,
    nginx: NginxServer,
    workdir: Path,
    sizes: PeerSizes,
    skipped: dict[str, str],
    timeout: float,
) -> list[dict[str, Any]]:
    plan = [(peer, sizes.concurrency) for peer in PEERS if peer not in skipped]
    if scenario == "large" and "transfer" not in skipped:  # one process is bound by its core
        plan.append((TRANSFER_PROCESSES, sizes.concurrency))
    if scenario == "large":  # what Python itself reaches here, with and without hashing
        plan += [(peer, sizes.concurrency) for peer in FLOORS if peer not in skipped]
    if scenario == "small":
        for n in sizes.sweep:
            if n != sizes.concurrency:
                plan += [(p, n) for p in ("curl", "transfer") if p not in skipped]
    # The first copy into a freshly written data set ran at 40-60 % of the speed of the ones
    # after it, whatever the peer (3 x 1 GiB: curl 420 MB/s first, 1,024 second; transfer 384
    # first, 615 after a naive copy): an untimed copy first, so no peer pays it.
    _say(f"  {scenario}: warm-up copy (naive, untimed) ...")
    run_peer("naive", data, nginx, workdir / "warm-up", concurrency=1, timeout=timeout)
    runs = []
    for rtt in sizes.rtts:
        label = scenario_label(scenario, rtt)
        with contextlib.ExitStack() as stack:
            server: Any = nginx
            if rtt:
                server = stack.enter_context(RelayedServer(nginx, LinkShape.rtt(rtt)))
            for peer, n in plan:
                _say(f"  {label}: {peer} N={n} ...")
                relay_cpu = server.relay_cpu_seconds() if rtt else 0.0
                run = run_peer(
                    peer,
                    data,
                    server,
                    workdir / f"{peer}-n{n}-rtt{rtt:g}",
                    concurrency=n,
                    timeout=timeout,
                )
                run["scenario"] = label
                run["rtt_ms"] = rtt
                run["relay_cpu_seconds"] = (server.relay_cpu_seconds() - relay_cpu) if rtt else 0.0
                run["server"] = "nginx"
                runs.append(run)
                if not run["ok"]:
                    _say(f"  {peer} N={n} did not copy everything: {run['differences'][:200]}")
    return runs


def run_scenario(
    scenario: str,
    sizes: PeerSizes,
    workdir: Path,
    *,
    nginx_problems: dict[str, str],
    skipped: dict[str, str],
    timeout: float,
    keep_data: bool = False,
    data_dir: Path | None = None,
    emulated: bool = True,
    naive_baseline: bool = False,
    profile_hook: Callable[[str, DataSet, NginxServer, Path], None] | None = None,
) -> list[dict[str, Any]]:
    """Every run of one scenario (nginx peers, then emulator → emulator unless not
    ``emulated``, followed by a naive copy through the same emulators with ``naive_baseline``)."""
    runs: list[dict[str, Any]] = []
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    if scenario != "half" and not nginx_problems:
        needed = sizes.large_size * 3 if scenario == "large" else sizes.small_count * 40_000
        root = data_root(workdir, needed, data_dir)
        try:
            _say(f"{scenario}: materialising files under {root} ...")
            data = _data_for(scenario, sizes, root)
            # nginx's own temp folders too: its workers must write request bodies there
            with NginxServer(data.root, root / "upload", root / "nginx", data.manifest) as nginx:
                runs += _peer_runs(scenario, data, nginx, workdir, sizes, skipped, timeout)
                if profile_hook is not None:
                    profile_hook(scenario, data, nginx, workdir)
        finally:
            if not keep_data:
                shutil.rmtree(root, ignore_errors=True)
    elif scenario != "half":
        _say(f"{scenario}: nginx peers skipped: {'; '.join(nginx_problems.values())}")
    if emulated and scenario in ("small", "large", "half"):
        _say(f"{scenario}: transfer, emulator -> emulator ...")
        run = run_emulated(
            scenario,
            workdir / "emulated",
            profile="bench-large" if scenario == "large" else "bench-small",
            file_count=None if scenario == "large" else sizes.small_count,
            file_size=sizes.large_size if scenario == "large" else None,
            workers=sizes.concurrency,
            preload_half=scenario == "half",
            timeout=timeout,
            naive_baseline=naive_baseline,
        )
        run["scenario"] = scenario
        run["server"] = "emulators"
        runs.append(run)
    return runs
