"""What a measured ``transfer migrate --json`` reported: the summary it prints last.

Every scenario that runs the migration in its own process (:mod:`benchmarks.many`,
:mod:`benchmarks.emulated`, :mod:`benchmarks.peers`) reads its files and bytes done from here.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_summary"]


def parse_summary(stdout: str) -> dict[str, Any]:
    """The JSON summary ``transfer migrate --json`` prints last ({} when there is none)."""
    start = stdout.find("{\n")
    if start < 0:
        return {}
    try:
        parsed: dict[str, Any] = json.loads(stdout[start:])
    except json.JSONDecodeError:
        return {}
    return parsed
