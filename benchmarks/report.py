"""The peer comparison as a table, ratios against the issue's targets, and a PNG chart.

Ratios are ``transfer`` (nginx → nginx, full verification and checkpointing) divided by each
peer at the same concurrency on the same files: MB/s for ``large``, files/s otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.peers import FLOORS, TRANSFER_PROCESSES

__all__ = ["TARGETS", "chart", "peer_table", "ratios"]

# issue 12, "Numbers to reach": (scenario, peer, metric, minimum ratio of transfer to the peer).
# Its small-file targets are set at 20 ms per round trip ("best": the fastest peer of the run);
# on loopback with no latency it sets none.
TARGETS = (
    ("large", "rclone", "mb_per_s", 1.0),
    ("large", "curl", "mb_per_s", 1.2),
    ("large", "naive (emulators)", "mb_per_s", 0.85),
    ("small@20ms", "rclone", "files_per_s", 1.5),
    ("small@20ms", "curl", "files_per_s", 1.5),
    ("small@20ms", "best", "files_per_s", 1.5),
    ("small@20ms", "naive", "files_per_s", 10.0),
)
RSS_LIMIT_MB = 150.0


def _metric(scenario: str) -> str:
    return "mb_per_s" if scenario.partition("@")[0] == "large" else "files_per_s"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _render(header: tuple[str, ...], lines: Sequence[tuple[str, ...]]) -> str:
    rows = [header, *lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def peer_table(runs: list[dict[str, Any]]) -> str:
    """One line per run: the figures every peer reports."""
    header: tuple[str, ...] = ("scenario", "peer", "server", "N", "files", "MB/s", "files/s")
    header += ("p50 s", "p99 s", "peak RSS MB", "CPU s/GB", "nginx CPU s/GB", "machine busy")
    header += ("relay CPU s", "ok")
    lines = [
        (
            r["scenario"],
            r["peer"],
            r["server"],
            str(r["concurrency"]),
            f"{r['files_done']:,}",
            _fmt(r["mb_per_s"]),
            _fmt(r["files_per_s"]),
            _fmt(r["p50_seconds"], 4),
            _fmt(r["p99_seconds"], 4),
            _fmt(r["peak_rss_mb"]),
            _fmt(r["cpu_s_per_gb"]),
            _fmt(r.get("server_cpu_s_per_gb"), 2),
            "n/a" if r.get("machine_busy") is None else f"{r['machine_busy']:.0%}",
            _fmt(r.get("relay_cpu_seconds") or None),
            "ok" if r["ok"] else "INCOMPLETE",
        )
        for r in runs
    ]
    return _render(header, lines)


def _find(
    runs: list[dict[str, Any]], scenario: str, peer: str, n: int, server: str = "nginx"
) -> dict[str, Any] | None:
    for r in runs:
        if (r["scenario"], r["peer"], r["concurrency"], r["server"]) == (scenario, peer, n, server):
            return r
    if peer == "naive":  # sequential by design: compare with whatever N transfer ran at
        return next((r for r in runs if (r["scenario"], r["peer"]) == (scenario, peer)), None)
    return None


def ratios(runs: list[dict[str, Any]], concurrency: int) -> list[dict[str, Any]]:
    """``transfer ÷ peer`` per scenario and peer, with the target verdict where there is one."""
    out = []
    scenarios = sorted({r["scenario"] for r in runs if r["server"] == "nginx"})
    for scenario in scenarios:
        metric = _metric(scenario)
        ours_by_label = {
            label: _find(runs, scenario, label, concurrency)
            for label in ("transfer", TRANSFER_PROCESSES)
        }
        for label, ours in ours_by_label.items():
            if ours is None:
                continue
            for peer in ("curl", "rclone", "naive", *FLOORS):
                theirs = _find(runs, scenario, peer, concurrency)
                if theirs is None or not theirs[metric]:
                    continue
                out.append(_ratio_row(scenario, metric, peer, ours, theirs, ours_label=label))
        if ours_by_label["transfer"] is None:
            continue
        emulated = _find(runs, scenario, "transfer (emulators)", concurrency, "emulators")
        naive = (emulated or {}).get("naive_copy") or {}  # timed right after, same emulators
        if emulated is not None and naive.get(metric):
            out.append(_ratio_row(scenario, metric, "naive (emulators)", emulated, naive))
    return out


def _ratio_row(
    scenario: str,
    metric: str,
    peer: str,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    *,
    ours_label: str = "transfer",
) -> dict[str, Any]:
    ratio = ours[metric] / theirs[metric]
    target = next((t for s, p, m, t in TARGETS if (s, p, m) == (scenario, peer, metric)), None)
    return {
        "scenario": scenario,
        "metric": metric,
        "ours": ours_label,
        "peer": peer,
        "transfer": ours[metric],
        "peer_value": theirs[metric],
        "ratio": ratio,
        "target": target,
        "met": None if target is None else ratio >= target,
    }


def ratio_table(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """The ratios, then the RSS verdict of every transfer run."""
    header = ("scenario", "metric", "transfer ÷ peer", "transfer", "peer", "ratio", "target")
    lines = [
        (
            r["scenario"],
            r["metric"].replace("_per_s", "/s").replace("mb", "MB"),
            r["peer"] if r.get("ours", "transfer") == "transfer" else f"{r['peer']} ({r['ours']})",
            _fmt(r["transfer"]),
            _fmt(r["peer_value"]),
            f"{r['ratio']:.2f}",
            "" if r["target"] is None else f">= {r['target']:g} {'ok' if r['met'] else 'MISSED'}",
        )
        for r in rows
    ]
    for r in runs:
        if r["peer"].startswith("transfer"):
            verdict = "ok" if r["peak_rss_mb"] <= RSS_LIMIT_MB else "MISSED"
            label = f"{r['peer']} N={r['concurrency']}"
            lines.append(
                (
                    r["scenario"],
                    "peak RSS MB",
                    label,
                    _fmt(r["peak_rss_mb"]),
                    "",
                    "",
                    f"<= 150 {verdict}",
                )
            )
    return _render(header, lines)


def chart(runs: list[dict[str, Any]], path: Path, concurrency: int) -> Path | None:
    """Throughput against concurrency (``small``), and each scenario against each peer."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    fig, axes = plt.subplots(1, 1 + len(scenarios), figsize=(5 * (1 + len(scenarios)), 4.5))
    axes = list(axes) if hasattr(axes, "__iter__") else [axes]
    sweep = axes[0]
    for peer, style in (("transfer", "o-"), ("curl", "s--"), ("rclone", "^:"), ("naive", "x:")):
        points = sorted(
            (r["concurrency"], r["files_per_s"])
            for r in runs
            if r["scenario"] == "small" and r["peer"] == peer and r["server"] == "nginx"
        )
        if points:
            xs, ys = zip(*points, strict=True)
            sweep.plot(xs, ys, style, label=peer)
    sweep.set_xscale("log", base=2)
    sweep.set_xlabel("concurrency (N)")
    sweep.set_ylabel("files/s")
    sweep.set_title("small files: throughput vs concurrency")
    if sweep.get_legend_handles_labels()[0]:
        sweep.legend()
    for axis, scenario in zip(axes[1:], scenarios, strict=True):
        metric = _metric(scenario)
        bars = [
            (f"{r['peer']}\n({r['server']})", r[metric])
            for r in runs
            if r["scenario"] == scenario
            and (r["concurrency"] == concurrency or r["peer"] == "naive")
        ]
        if scenario == "half":  # next to the same files with nothing in the target yet
            bars[:0] = [
                ("transfer (emulators)\nempty target", r[metric])
                for r in runs
                if r["scenario"] == "small" and r["server"] == "emulators"
            ]
        if not bars:
            continue
        labels, values = zip(*bars, strict=True)
        colors = ["tab:blue" if label.startswith("transfer") else "tab:gray" for label in labels]
        axis.bar(range(len(values)), values, color=colors)
        axis.set_xticks(range(len(values)), labels, fontsize=8)
        axis.set_ylabel("MB/s" if metric == "mb_per_s" else "files/s")
        axis.set_title(f"{scenario} (N={concurrency})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
