"""Smoke test of the benchmark command: it runs end to end on a tiny scenario.

No wall-clock assertion: the figures depend on the machine. What must hold is that the command
drives real nginx, peer, sandbox and migrate processes to completion, checks every copy, records
the figures, draws the chart, and leaves no server behind. Peers whose tools are missing are
skipped by the command itself, with the reason recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if text in args:
            found.append(args)
    return found


def test_benchmark_command_runs_a_tiny_scenario(tmp_path: Path, reachable_tmp: Path) -> None:
    workdir, results = tmp_path / "work", tmp_path / "results"
    # what an earlier run with the same --workdir left: its store is not this run's to resume
    stale = workdir / "small" / "emulated"
    stale.mkdir(parents=True)
    (stale / "state.db").write_bytes(b"an earlier run's store")
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "small",
        "--small-count",
        "30",
        "--concurrency",
        "4",
        "--sweep",
        "4",
        "--rtt",
        "0,10",
        "--workdir",
        str(workdir),
        "--timeout",
        "60",
        "--data-dir",
        str(reachable_tmp),
        "--results-dir",
        str(results),
    ]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=110, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [record_path] = results.glob("*.json")
    record = json.loads(record_path.read_text())
    runs = record["runs"]
    peers = {run["peer"] for run in runs}
    # every peer ran, or the record says why not
    for peer in ("curl", "rclone", "naive", "transfer"):
        assert (
            peer in peers
            or any(peer in what for what in record["skipped"])
            or ("nginx" in record["skipped"])
        ), (peer, record["skipped"])
    assert "transfer (emulators)" in peers
    for run in runs:
        assert run["ok"], run
        assert run["files_done"] == 30
        assert run["peak_rss_mb"] > 1
    assert {run["scenario"] for run in runs if run["server"] == "emulators"} == {"small"}
    nginx_runs = [run for run in runs if run["server"] == "nginx"]
    for run in nginx_runs:
        assert run["identical"]
        assert run["copied"] == 30
        assert 0 < run["machine_busy"] <= 1  # something ran: the peer at least
        assert run["server_cpu_s_per_gb"] >= 0  # in clock ticks: 30 small files may take none
    # every nginx peer ran twice: directly, and through the relay adding 10 ms per round trip
    by_rtt = {rtt: {r["peer"] for r in nginx_runs if r["rtt_ms"] == rtt} for rtt in (0, 10)}
    assert by_rtt[0] == by_rtt[10]
    for run in nginx_runs:
        assert run["scenario"] == ("small@10ms" if run["rtt_ms"] else "small")
        assert run["relay_cpu_seconds"] >= 0
        if not run["rtt_ms"]:
            assert run["relay_cpu_seconds"] == 0
    # CPU time comes in clock ticks (10 ms): one peer's 30 small files may take less than one,
    # the relayed runs together do not
    assert sum(run["relay_cpu_seconds"] for run in nginx_runs if run["rtt_ms"]) > 0
    if any(run["peer"] == "transfer" for run in nginx_runs):
        assert any(row["peer"] != "transfer" for row in record["ratios"]) or len(nginx_runs) == 1
        assert record["chart"]
        assert Path(record["chart"]).stat().st_size > 0
    assert "transfer (emulators)" in done.stdout
    assert _processes_mentioning(str(workdir)) == []
    assert list(reachable_tmp.iterdir()) == []  # the materialised files are gone


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "nonsense", "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown scenario nonsense" in done.stderr
    assert list(tmp_path.iterdir()) == []
