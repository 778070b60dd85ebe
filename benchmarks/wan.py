"""The ``wan`` scenario: ``bench-small`` between the emulators with WAN-like latency, default
settings.

Bintray's API answered in 100-300 ms and JFrog Cloud is tens of ms away: at that latency
discovery, not copying, sets the pace (issue 12). The Bintray emulator adds ``api_ms`` to every
API call (route family ``bintray.api``) and ``other_ms`` to everything else (downloads); the
Artifactory emulator adds ``other_ms`` to every request. ``transfer migrate`` runs with no
tuning flag at all. Each run reports files/s end to end, when discovery marked its last
version, and when the first copy started.

``engines`` maps a label to a checkout whose ``transfer`` package is measured instead of this
one (``None``: this one), so a before/after pair runs back to back on the same load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.emulated import run_emulated

__all__ = ["WAN_API_MS", "WAN_OTHER_MS", "run_wan", "wan_faults", "wan_table"]

WAN_API_MS = 100.0
WAN_OTHER_MS = 30.0


def wan_faults(api_ms: float, other_ms: float) -> tuple[str, str]:
    """The (Bintray, Artifactory) fault specs: latency per route family."""
    api, other = api_ms / 1000, other_ms / 1000
    return f"*:latency={other:g};bintray.api:latency={api:g}", f"*:latency={other:g}"


def run_wan(
    workdir: Path,
    *,
    file_count: int,
    engines: Mapping[str, str | None],
    workers: Mapping[str, int] | None = None,
    processes: Mapping[str, int] | None = None,
    api_ms: float = WAN_API_MS,
    other_ms: float = WAN_OTHER_MS,
    timeout: float = 1800.0,
) -> list[dict[str, Any]]:
    """One measured migration per engine (label → checkout path or ``None``), with the default
    number of copy workers and of processes (``"auto"``) unless ``workers`` or ``processes``
    names one for that label."""
    runs = []
    for label, path in engines.items():
        load_before = os.getloadavg()
        run = run_emulated(
            f"wan {label}",
            workdir / f"wan-{label}",
            profile="bench-small",
            file_count=file_count,
            workers=(workers or {}).get(label),
            processes=(processes or {}).get(label),
            faults=wan_faults(api_ms, other_ms),
            engine_path=path,
            timeout=timeout,
        )
        run.update(
            scenario=f"wan@{api_ms:g}/{other_ms:g}ms",
            engine=label,
            load_before=[round(x, 2) for x in load_before],
            load_after=[round(x, 2) for x in os.getloadavg()],
        )
        runs.append(run)
    return runs


def _cell(value: Any, fmt: str = "{:,.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def wan_table(runs: list[dict[str, Any]]) -> str:
    """files/s, discovery time and the first copy's start, one line per run."""
    header = (
        f"{'run':<22} {'files':>7} {'files/s':>8} {'wall s':>7} {'discovery s':>11} "
        f"{'1st copy s':>10} {'load 1m before/after':>20}"
    )
    return "\n".join(
        [
            header,
            *(
                f"{r['name'] + ('' if r['ok'] else ' (INCOMPLETE)'):<22} "
                f"{r['files_done']:>7,} {_cell(r.get('files_per_s')):>8} "
                f"{_cell(r.get('wall_seconds')):>7} {_cell(r.get('discovery_seconds')):>11} "
                f"{_cell(r.get('first_copy_started')):>10} "
                f"{r['load_before'][0]:>9.2f}/{r['load_after'][0]:<9.2f}"
                for r in runs
            ),
        ]
    )
