"""Smoke test of the benchmark command: it runs end to end on a tiny scenario.

No wall-clock assertion: the figures depend on the machine. What must hold is that the command
drives real sandbox and migrate processes to completion, records their figures, and leaves no
server behind.
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


def test_benchmark_command_runs_a_tiny_scenario(tmp_path: Path) -> None:
    workdir, results = tmp_path / "work", tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--quick",
        "small",
        "--ceiling-size",
        str(2 << 20),
        "--ceiling-count",
        "40",
        "--small-count",
        "40",
        "--workers",
        "4",
        "--workdir",
        str(workdir),
        "--results-dir",
        str(results),
    ]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "small 40 w4" in done.stdout
    [record_path] = results.glob("*.json")
    record = json.loads(record_path.read_text())

    assert set(record["ceiling"]) >= {
        "large_download",
        "large_upload_sink",
        "large_copy_sink",
        "small_download",
        "small_upload_sink",
        "small_copy_sink",
        "large_upload_disk",
        "small_upload_disk",
    }
    assert all(figure["value"] > 0 for figure in record["ceiling"].values())
    [run] = record["scenarios"]
    assert run["ok"], run
    assert run["files_done"] == run["files_expected"] == 40
    assert run["workers"] == 4
    # the migrate process's own high-water mark: a Python process with aiohttp is well over 10 MB
    assert run["peak_rss_mb"] > 10
    assert run["peak_rss_mb"] == max(run["maxrss_mb"], run["polled_hwm_mb"])
    assert abs(run["maxrss_mb"] - run["polled_hwm_mb"]) < 5
    assert "--only artifacts" in run["command"]
    assert _processes_mentioning(str(workdir)) == []


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
