"""The ``many`` scenario (issue 12 §4) at a few hundred files: the scale figures are there and sane.

No wall-clock assertion: only that the run completes between the two emulator processes and
reports peak RSS (its own and the emulators'), the store's bytes per file, the per-tenth rates
and the time to the first file, and that the rate arithmetic tells a flat run from a falling one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.many import cpu_per_file, rate_figures

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_many_reports_the_scale_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = [sys.executable, "-m", "benchmarks.run", "many", "--many-count", "300"]
    command += ["--workdir", str(tmp_path / "work"), "--results-dir", str(results)]
    done = subprocess.run(
        [*command, "--timeout", "90"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [record_path] = results.glob("*.json")
    [run] = json.loads(record_path.read_text())["scenarios"]
    assert run["ok"], run
    assert run["files_expected"] == run["files_done"] == 300
    assert run["peak_rss_mb"] > 10
    for emulator in ("bintray", "artifactory"):
        assert run["emulators"][emulator]["peak_rss_mb"] > 10
        assert run["emulators"][emulator]["cpu_seconds"] > 0
    # one row per item, a few columns of text: far more than nothing, far less than 100 KB
    assert 100 < run["store_bytes_per_file"] < 100_000
    assert run["rss_samples"]
    assert all(s["migrate_rss_mb"] > 0 for s in run["rss_samples"])
    tenths = run["files_per_s_by_tenth"]
    assert len(tenths) == 10
    assert all(rate is None or rate > 0 for rate in tenths)
    assert sum(run["files_per_s_by_minute"]) > 0
    first_started = run["time_to_first_copy_started_s"]
    assert 0 < first_started <= run["time_to_first_file_done_s"] < run["wall_seconds"]
    assert run["end_vs_start"] is None  # a run of seconds has no first and last minute
    assert isinstance(run["migrate_cpu_ms_per_file_by_tenth"], list)
    assert run["load_average"]["max"] >= run["load_average"]["min"] >= 0
    assert "store per file" in done.stdout
    assert "many 300: 300 of 300 files" in done.stdout


def test_rate_figures_tell_flat_from_falling() -> None:
    began = 1_000.0
    flat = [began + 5 + i / 100 for i in range(100 * 300)]  # 100 files/s for 300 s
    figures = rate_figures(flat, began)
    assert figures["end_vs_start"] == pytest.approx(1.0, abs=0.01)
    assert figures["first_minute_files_per_s"] == pytest.approx(100, abs=1)
    assert figures["files_per_s_by_minute"][:5] == [100.0] * 5
    assert figures["time_to_first_file_done_s"] == 5.0
    # 100 files/s for two minutes, then 50 files/s for two
    falling = [began + i / 100 for i in range(12_000)]
    falling += [began + 120 + i / 50 for i in range(1, 6_001)]
    figures = rate_figures(falling, began)
    assert figures["end_vs_start"] == pytest.approx(0.5, abs=0.01)
    assert figures["files_per_s_by_tenth"][0] == pytest.approx(100, abs=1)
    assert figures["files_per_s_by_tenth"][-1] == pytest.approx(50, abs=1)
    assert rate_figures([], began)["end_vs_start"] is None


def test_cpu_per_file_is_flat_when_the_engine_is_whatever_the_wall_clock_rate() -> None:
    # 2 ms of CPU per file throughout, while the files done per sample halve half-way
    samples, cpu, done = [], 0.0, 0
    for n in range(40):
        step = 100 if n < 20 else 50
        cpu, done = cpu + step * 0.002, done + step
        samples.append({"migrate_cpu_s": cpu, "done": done})
    assert cpu_per_file(samples) == [2.0] * 10
    # a store that costs more per file as it grows: CPU per file rises
    rising = [{"migrate_cpu_s": 0.001 * n * n, "done": 10 * n} for n in range(40)]
    figures = cpu_per_file(rising)
    assert figures[-1] > 3 * figures[1]
    assert cpu_per_file(samples[:5]) == []  # too few samples to split in tenths
