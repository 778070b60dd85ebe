"""The README's benchmark block, rendered from one recorded run of ``python -m benchmarks.readme``.

Pure functions of the run's JSON record, so the block is the same every time it is rendered
from the same record (the rewrite is idempotent) and can be tested without running anything:

* a header naming the command, the commit, the date, the machine and its load before and after,
  with a warning when the run was taken on a busy machine, was a ``--quick`` run or had a
  scenario fail;
* a Markdown table: ``transfer``'s figure, every peer's figure from the same run, and the
  ratios issue 12 asks for (with its targets where it sets one);
* a chart of those ratios as Unicode bars in a fenced block (a log scale around 1×), so no
  generated image has to live in git.

:func:`rewrite` replaces what lies between the two markers of a README and nothing else;
:func:`refusal` says why a record must not go into the README (unless forced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from benchmarks.peers import FLOORS, TRANSFER_PROCESSES
from benchmarks.report import TARGETS

__all__ = [
    "BEGIN",
    "END",
    "Ratio",
    "chart",
    "failures",
    "ratios_of",
    "refusal",
    "render_block",
    "rewrite",
]

BEGIN = "<!-- benchmarks:begin (written by python -m benchmarks.readme; edits here are lost) -->"
END = "<!-- benchmarks:end -->"
_BEGIN_PREFIX = "<!-- benchmarks:begin"
_PEER_LABELS = {
    "curl": "curl pipes",
    "rclone": "rclone",
    "naive": "naive",
    "aiohttp": "aiohttp stream copy",
    "aiohttp+sha256": "aiohttp stream copy hashing sha256",
}
_OURS_LABELS = {"transfer": "", TRANSFER_PROCESSES: " (2 processes)"}
_CELLS_PER_DECADE = 12  # chart: bar cells per factor of 10
_LEFT_DECADES, _RIGHT_DECADES = 1, 2  # chart: from 0.1× to 100×

Ratio = tuple[str, float, float | None]  # (what, transfer ÷ it, issue 12's minimum or None)


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio >= 10 else f"{ratio:.2f}×"


def _size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size:,} bytes"


def _find(record: dict[str, Any], scenario: str, peer: str, server: str = "nginx") -> Any:
    n = record["sizes"]["concurrency"]
    for run in record["runs"]:
        if (run["scenario"], run["peer"], run["server"]) != (scenario, peer, server):
            continue
        if server != "nginx" or peer == "naive" or run["concurrency"] == n:
            return run
    return None


def _engine(record: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [r for r in record["engine"] if r["name"].startswith(prefix)]


def _flag(run: dict[str, Any]) -> str:
    return "" if run["ok"] else " (INCOMPLETE)"


def _target(scenario: str, peer: str) -> float | None:
    metric = "mb_per_s" if scenario == "large" else "files_per_s"
    return next((t for s, p, m, t in TARGETS if (s, p, m) == (scenario, peer, metric)), None)


def _peer_ratios(
    record: dict[str, Any], scenario: str, peers: Sequence[str], ours_peer: str = "transfer"
) -> list[Ratio]:
    """transfer ÷ each named peer (``best``: the fastest peer of the run) on one scenario;
    ``ours_peer`` names the transfer run (``transfer-p2``: two copy processes)."""
    metric = "mb_per_s" if scenario == "large" else "files_per_s"
    ours = _find(record, scenario, ours_peer)
    if ours is None or not ours[metric]:
        return []
    theirs = {p: _find(record, scenario, p) for p in _PEER_LABELS}
    found = {p: r for p, r in theirs.items() if r is not None and r[metric]}
    out: list[Ratio] = []
    for peer in peers:
        if peer == "best":
            if not found:
                continue
            best = max(found, key=lambda p: found[p][metric])
            out.append(
                (
                    f"{scenario} ÷ best peer ({_PEER_LABELS[best]})",
                    ours[metric] / found[best][metric],
                    _target(scenario, "best"),
                )
            )
        elif peer in found:
            ratio = ours[metric] / found[peer][metric]
            what = f"{scenario}{_OURS_LABELS[ours_peer]} ÷ {_PEER_LABELS[peer]}"
            out.append((what, ratio, _target(scenario, peer)))
    return out


def _baseline_ratio(run: Any, value: float | None, what: str, metric: str) -> list[Ratio]:
    if run is None or not value or not run[metric]:
        return []
    return [(what, run[metric] / value, None)]


def _ratio_cell(ratios: Sequence[Ratio]) -> str:
    cells = []
    for what, ratio, target in ratios:
        versus = what.split(" ÷ ", 1)[1]
        cell = f"{_times(ratio)} {versus}"
        if target is not None:
            cell += f" (target ≥ {target:g}: {'met' if ratio >= target else 'missed'})"
        cells.append(cell)
    return "; ".join(cells)


def _peers_cell(record: dict[str, Any], scenario: str, unit: str) -> str:
    metric = "mb_per_s" if unit == "MB/s" else "files_per_s"
    cells = []
    for peer, label in _PEER_LABELS.items():
        run = _find(record, scenario, peer)
        if run is not None:
            cells.append(f"{label} {_num(run[metric])}{_flag(run)}")
        elif peer in record["skipped"].get(scenario, {}):
            cells.append(f"{label} not run ({record['skipped'][scenario][peer]})")
    return "; ".join(cells) + (f" {unit}" if cells else "")


def _nginx_transfer_cell(run: Any, unit: str) -> str:
    if run is None:
        return "not run"
    if unit == "MB/s":
        head = f"{_num(run['mb_per_s'])} MB/s, {run['cpu_s_per_gb'] or 0:.1f} CPU s/GB"
        if run.get("server_cpu_s_per_gb") is not None:  # recorded since 2026-12-06
            head += f" (nginx {run['server_cpu_s_per_gb']:.2f})"
        if run.get("machine_busy") is not None:
            head += f", machine {run['machine_busy']:.0%} busy"
    else:
        head = f"{_num(run['files_per_s'])} files/s"
        if run.get("p50_seconds") is not None:
            head += (
                f", p50 {run['p50_seconds'] * 1000:.1f} ms, p99 {run['p99_seconds'] * 1000:.1f} ms"
            )
    return f"{head}, {run['peak_rss_mb']:.0f} MB RSS{_flag(run)}"


def _rows(record: dict[str, Any]) -> list[tuple[str, str, str, list[Ratio]]]:
    """(scenario, transfer, peers in the same run, ratios) for every line of the table."""
    sizes = record["sizes"]
    n, rtt = sizes["concurrency"], f"{sizes['rtt_ms']:g}"
    relayed = f"small@{rtt}ms"
    rows: list[tuple[str, str, str, list[Ratio]]] = []
    large = f"large, 3 × {_size(sizes['large_size'])}"
    nginx = (
        ("large", large, "MB/s", ["rclone", "curl", *FLOORS], "transfer"),
        ("large", f"{large}, `--processes 2`", "MB/s", ["rclone", "curl"], TRANSFER_PROCESSES),
        (
            "small",
            f"small, {sizes['small_count']:,} × 1–64 KiB",
            "files/s",
            ["curl", "naive"],
            "transfer",
        ),
        (
            relayed,
            f"small@{rtt}ms, {sizes['relay_small_count']:,} × 1–64 KiB, "
            f"{rtt} ms added per round trip",
            "files/s",
            ["naive", "best"],
            "transfer",
        ),
        (
            "mixed",
            f"mixed, {sizes['mixed_count']:,} × 1 KiB–32 MiB",
            "files/s",
            ["naive", "best"],
            "transfer",
        ),
    )
    for scenario, label, unit, wanted, ours_peer in nginx:
        ours = _find(record, scenario, ours_peer)
        if ours is None and ours_peer != "transfer":
            continue  # a record from before that run existed
        rows.append(
            (
                f"{label}, nginx → nginx, N = {n}",
                _nginx_transfer_cell(ours, unit),
                _peers_cell(record, scenario, unit),
                _peer_ratios(record, scenario, wanted, ours_peer),
            )
        )
    large = _find(record, "large", "transfer (emulators)", "emulators")
    small = _find(record, "small", "transfer (emulators)", "emulators")
    half = _find(record, "half", "transfer (emulators)", "emulators")
    emulated = (("large", large, "mb_per_s", "MB/s"), ("small", small, "files_per_s", "files/s"))
    for scenario, run, metric, unit in emulated:
        base = ((run or {}).get("naive_copy") or {}).get(metric)
        base_label = "naive copy of the same files through the same emulators"
        rows.append(
            (
                f"{scenario}, emulators (two processes, Artifactory in sink mode), N = {n}",
                "not run"
                if run is None
                else f"{_num(run[metric])} {unit}, {run['peak_rss_mb']:.0f} MB RSS{_flag(run)}",
                f"{base_label} {_num(base)} {unit}" if base else "",
                _baseline_ratio(run, base, f"{scenario} (emulators) ÷ naive copy", metric),
            )
        )
    how = ", ".join(f"{k or '?'} {v:,}" for k, v in sorted((half or {}).get("how", {}).items()))
    rows.append(
        (
            "half: small with every other file already in the target, emulators",
            "not run"
            if half is None
            else f"{_num(half['files_per_s'])} files/s ({how}){_flag(half)}",
            ""
            if small is None
            else f"same files, empty target {_num(small['files_per_s'])} files/s",
            _baseline_ratio(
                half, small and small["files_per_s"], "half ÷ empty target", "files_per_s"
            ),
        )
    )
    rows += _engine_rows(record)
    return rows


def _engine_rows(record: dict[str, Any]) -> list[tuple[str, str, str, list[Ratio]]]:
    sizes = record["sizes"]
    rows: list[tuple[str, str, str, list[Ratio]]] = []
    for run in _engine(record, "wan"):
        cell = f"{_num(run['files_per_s'])} files/s"
        if run.get("discovery_seconds") is not None:
            cell += f", discovery done at {run['discovery_seconds']:.1f} s"
        settings = "`--processes 2`" if run.get("engine") == "processes=2" else "default settings"
        cell += _joined(run)
        rows.append(
            (
                f"wan, {sizes['wan_count']:,} small files, emulators, {run['scenario'][4:-2]} ms "
                f"per Bintray API call / other request, {settings}",
                cell + _flag(run),
                "",
                [],
            )
        )
    discovery = _engine(record, "discovery")
    if discovery:
        cells = [
            f"{_num(r['files_per_s'])} files/s "
            f"{'with' if 'attributes' in r['name'] else 'without'} file attributes{_flag(r)}"
            for r in discovery
        ]
        rows.append(
            (
                f"discovery alone, {sizes['discovery_count']:,} files, 150 ms per Bintray API call",
                "; ".join(cells),
                "",
                [],
            )
        )
    rows.extend(
        (
            f"many, {sizes['many_count']:,} small files, emulators, default settings",
            f"{_num(run['files_per_s'])} files/s, peak RSS {run['peak_rss_mb']:.0f} MB"
            + _joined(run)
            + _flag(run),
            "",
            [],
        )
        for run in _engine(record, "many")
    )
    return rows


def _joined(run: dict[str, Any]) -> str:
    joined = run.get("process_joined_after")
    return "" if joined is None else f"; a second process joined at {joined:.1f} s"


def ratios_of(record: dict[str, Any]) -> list[Ratio]:
    """Every ratio of the table, in its order."""
    return [ratio for *_, ratios in _rows(record) for ratio in ratios]


def _bar(ratio: float) -> str:
    cells = round(math.log10(ratio) * _CELLS_PER_DECADE) if ratio > 0 else -99
    left_width = _LEFT_DECADES * _CELLS_PER_DECADE
    right_width = _RIGHT_DECADES * _CELLS_PER_DECADE
    if cells < 0:
        shown = min(-cells, left_width)
        return " " * (left_width - shown) + "█" * shown + "│"
    return " " * left_width + "│" + "█" * min(cells, right_width)


def chart(ratios: Sequence[Ratio]) -> str:
    """The ratios as bars on a log scale around 1× (left of the axis: the peer was faster)."""
    if not ratios:
        return ""
    width = max(len(what) for what, _, _ in ratios)
    axis = _LEFT_DECADES * _CELLS_PER_DECADE
    lines = [
        # each label ends over the last cell of its bar
        f"{'transfer ÷ peer, same run':<{width}}  {'':>7}  {'0.1×':<{axis}}1×"
        f"{'10×':>{_CELLS_PER_DECADE - 1}}{'100×':>{_CELLS_PER_DECADE}}"
    ]
    for what, ratio, target in ratios:
        mark = "" if target is None else f"  (target ≥ {target:g})"
        lines.append(f"{what:<{width}}  {_times(ratio):>7}  {_bar(ratio)}".rstrip() + mark)
    return "\n".join(lines)


def _header(record: dict[str, Any]) -> list[str]:
    machine, load = record["machine"], record["load"]
    commit = (machine.get("commit") or "unknown")[:10]
    changes = record.get("code_changes", [])
    tree = f"with uncommitted changes to {len(changes)} files" if changes else "clean tree"
    share = load.get("others_cpu_share")
    others = "" if share is None else f"; other processes used {share:.0%} of the cores' time"
    lines = [
        f"Measured by `{record['command']}` at commit `{commit}` ({tree}), "
        f"{record['started_utc']}, one run of {record['seconds'] / 60:.1f} min on {load['cpus']} × "
        f"{machine.get('cpu_model') or 'unknown CPU'}, Python {machine.get('python', '?')}. "
        f"Load average (1 min): {load['before'][0]:.2f} before, {load['after'][0]:.2f} after "
        f"(the run's own work counts in the second){others}."
    ]
    if load["busy"]:
        lines.append(
            "> **Busy machine:** "
            + "; ".join(load["busy_reasons"])
            + ". These figures understate what this commit does; rerun on a quiet machine."
        )
    if record["quick"]:
        lines.append("> **Quick run (`--quick`): tiny sizes, not figures to quote.**")
    failed = failures(record)
    if failed:
        lines.append("> **Incomplete:** " + "; ".join(failed) + ".")
    return lines


def failures(record: dict[str, Any]) -> list[str]:
    """What did not complete: runs short of files, scenarios that raised."""
    failed = [
        f"{r.get('scenario', '')} {r.get('peer', r.get('name', ''))}".strip() + " did not complete"
        for r in record["runs"] + record["engine"]
        if not r["ok"]
    ]
    failed += [f"{e['step']} failed: {e['error']}" for e in record["errors"]]
    return failed


def refusal(record: dict[str, Any]) -> str | None:
    """Why this record must not be written into the README (``None``: it may)."""
    if record["quick"]:
        return "a --quick run's figures are not README figures"
    failed = failures(record)
    if failed:
        return f"{len(failed)} runs did not complete ({failed[0]})"
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def render_block(record: dict[str, Any]) -> str:
    """The Markdown between the markers: header, table, trims, chart."""
    out = "\n\n".join(_header(record)).split("\n")  # one paragraph or quote each
    out += ["", "| scenario | transfer | peers, same run | transfer ÷ peer |", "|---|---|---|---|"]
    rows = _rows(record)
    out += [
        f"| {_cell(s)} | {_cell(t)} | {_cell(p)} | {_cell(_ratio_cell(r))} |" for s, t, p, r in rows
    ]
    out.append("")
    out.append(
        "MB = 10^6 bytes. Ratios are `transfer`'s figure divided by the other's in the same run "
        "(above 1: `transfer` was faster); targets are issue 12's. `transfer`'s time is its whole "
        "process, start-up and discovery included; the naive copies through the emulators are "
        "timed after listing the files."
    )
    if record.get("trimmed"):
        out += [
            "",
            "Trimmed to keep the run near 20 minutes: " + "; ".join(record["trimmed"]) + ".",
        ]
    drawn = chart(ratios_of(record))
    if drawn:
        out += ["", "```text", drawn, "```"]
    return "\n".join(out)


def rewrite(text: str, block: str) -> str:
    """``text`` with everything between the markers replaced by ``block``; ValueError when the
    markers are missing, repeated or out of order."""
    lines = text.split("\n")
    begins = [i for i, line in enumerate(lines) if line.startswith(_BEGIN_PREFIX)]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ValueError(
            f"expected one '{_BEGIN_PREFIX} ... -->' line followed by one '{END}' line"
        )
    return "\n".join([*lines[: begins[0]], BEGIN, "", block, "", *lines[ends[0] :]])
