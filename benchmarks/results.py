"""Turning raw benchmark figures into the printed table and the JSON record.

Every engine figure is shown next to the baseline measured in the same run (the emulator
ceiling) as a ratio, and next to its target from issue 3 where there is one.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.procs import REPO_ROOT

__all__ = ["Row", "machine_info", "render_table", "rows_for", "write_json"]

# issue 3, "Numbers to reach"
RSS_TARGET_LARGE_MB = 150.0
RSS_TARGET_MANY_MB = 200.0
FILES_PER_S_TARGET = 300.0


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table."""

    scenario: str
    metric: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    verdict: str = ""

    @property
    def ratio(self) -> float | None:
        """``value ÷ baseline_value`` when there is a baseline."""
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _ceiling_rows(ceiling: dict[str, Any]) -> list[Row]:
    rows = []
    for name, figure in ceiling.items():
        share = figure.get("emulator_cpu_share", 0.0)
        rows.append(
            Row(
                "ceiling",
                name,
                figure["value"],
                figure["unit"],
                target=f"emulator CPU {share:.0%}",
            )
        )
    return rows


def rows_for(ceiling: dict[str, Any], scenarios: list[dict[str, Any]]) -> list[Row]:
    """The table: ceilings first, then each engine scenario with its baselines and targets."""
    rows = _ceiling_rows(ceiling)
    copy_mb = ceiling.get("large_copy_sink", {}).get("value")
    copy_files = ceiling.get("small_copy_sink", {}).get("value")
    for s in scenarios:
        label = s["name"] + ("" if s["ok"] else " (INCOMPLETE)")
        if s["name"].startswith("large"):
            rows.append(Row(label, "throughput", s["mb_per_s"], "MB/s", "large_copy_sink", copy_mb))
            rss_target = RSS_TARGET_LARGE_MB
        else:
            ok = s["files_per_s"] >= FILES_PER_S_TARGET
            rows.append(
                Row(
                    label,
                    "files/s",
                    s["files_per_s"],
                    "files/s",
                    "small_copy_sink",
                    copy_files,
                    f">= {FILES_PER_S_TARGET:g}",
                    _verdict(ok) if s["name"].startswith("small") and not s["profiled"] else "",
                )
            )
            rss_target = RSS_TARGET_MANY_MB
        rss_ok = s["peak_rss_mb"] < rss_target
        is_target = s["name"].startswith(("large", "many")) and not s["profiled"]
        rows.append(
            Row(
                label,
                "peak RSS",
                s["peak_rss_mb"],
                "MB",
                target=f"< {rss_target:g}" if is_target else "",
                verdict=_verdict(rss_ok) if is_target else "",
            )
        )
        rows.append(Row(label, "wall", s["wall_seconds"], "s"))
        cpu = s["migrate_cpu_seconds"] + s["emulator_cpu_seconds"]
        rows.append(
            Row(
                label,
                "CPU migrate/emulator",
                s["migrate_cpu_seconds"],
                "s",
                "emulator CPU s",
                s["emulator_cpu_seconds"],
                target=f"both: {cpu / s['wall_seconds'] if s['wall_seconds'] else 0:.2f} cores",
            )
        )
    return rows


def render_table(rows: list[Row]) -> str:
    """A fixed-width text table."""
    header = ("scenario", "metric", "value", "unit", "baseline (same run)", "ratio", "target")
    lines = [header]
    for r in rows:
        baseline = f"{r.baseline} {r.baseline_value:,.1f}" if r.baseline_value else r.baseline
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        target = f"{r.target} {r.verdict}".strip()
        lines.append((r.scenario, r.metric, f"{r.value:,.1f}", r.unit, baseline, ratio, target))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """Where the figures were taken: cores, CPU model, Python, commit."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain")),
    }


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write the raw record (creating the results directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
