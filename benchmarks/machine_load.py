"""How busy the machine was around a benchmark run, and whether that makes it a "busy" run.

The load average alone cannot tell after the run: the benchmark itself keeps both cores busy,
so the 1-minute load at the end is mostly our own. Two readings are taken instead:

* the 1-minute load average **before** the run, per core: others already at work;
* the CPU time **other processes** used during the run: the machine's busy time
  (``/proc/stat``) minus what this process and its children used (``getrusage``, children
  counted once reaped, which every server and peer of the benchmarks is before the end).

A run is busy when either crosses its threshold. The load after is recorded too, as asked.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.procs import machine_cpu

__all__ = ["BUSY_LOAD_PER_CORE", "BUSY_OTHERS_SHARE", "LoadSample", "busy_reasons", "load_record"]

BUSY_LOAD_PER_CORE = 0.5  # 1-minute load average before the run, per core
BUSY_OTHERS_SHARE = 0.25  # share of all cores' time other processes used during the run


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent not idle since boot (``None`` where /proc/stat is absent)."""
    busy, total = machine_cpu()
    return busy if total else None


def _own_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True, slots=True)
class LoadSample:
    """One reading of the machine's load."""

    at: float  # monotonic seconds
    load: tuple[float, float, float]  # 1, 5, 15-minute load averages
    cpus: int
    machine_busy_s: float | None
    own_cpu_s: float

    @classmethod
    def now(cls) -> LoadSample:
        """Read it now."""
        load = os.getloadavg()
        return cls(
            time.monotonic(),
            (round(load[0], 2), round(load[1], 2), round(load[2], 2)),
            os.cpu_count() or 1,
            _machine_busy_seconds(),
            _own_cpu_seconds(),
        )


def busy_reasons(load: dict[str, Any]) -> list[str]:
    """Why a run with this :func:`load_record` counts as taken on a busy machine ([] if not)."""
    reasons = []
    cpus = load["cpus"]
    per_core = load["before"][0] / cpus
    if per_core > BUSY_LOAD_PER_CORE:
        reasons.append(
            f"1-minute load {load['before'][0]:.2f} on {cpus} cores before the run "
            f"({per_core:.2f} per core > {BUSY_LOAD_PER_CORE:g})"
        )
    share = load.get("others_cpu_share")
    if share is not None and share > BUSY_OTHERS_SHARE:
        reasons.append(
            f"other processes used {share:.0%} of the cores' time during the run "
            f"(> {BUSY_OTHERS_SHARE:.0%})"
        )
    return reasons


def load_record(before: LoadSample, after: LoadSample) -> dict[str, Any]:
    """The JSON-ready record of the two readings, the others' share, and the busy verdict."""
    wall = after.at - before.at
    share = None
    if before.machine_busy_s is not None and after.machine_busy_s is not None and wall > 0:
        others = (after.machine_busy_s - before.machine_busy_s) - (
            after.own_cpu_s - before.own_cpu_s
        )
        share = round(max(0.0, others) / (wall * before.cpus), 3)
    record: dict[str, Any] = {
        "cpus": before.cpus,
        "before": list(before.load),
        "after": list(after.load),
        "others_cpu_share": share,
        "thresholds": {
            "load_per_core_before": BUSY_LOAD_PER_CORE,
            "others_cpu_share": BUSY_OTHERS_SHARE,
        },
        "samples": [{**asdict(s), "load": list(s.load)} for s in (before, after)],
    }
    record["busy_reasons"] = busy_reasons(record)
    record["busy"] = bool(record["busy_reasons"])
    return record
