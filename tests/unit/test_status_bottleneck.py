"""``transfer status``'s discovery line: discovered against copied, and what sets the pace."""

from __future__ import annotations

import pytest

from transfer.checkpoint.base import Counts
from transfer.runner import RunStatus


def _status(complete: bool | None, pending: int, in_flight: int = 0, done: int = 0) -> RunStatus:
    rows = [("r", "pending", pending, pending), ("r", "in_flight", in_flight, in_flight)]
    rows.append(("r", "done", done, done))
    return RunStatus(Counts.from_rows(rows), [], discovery_complete=complete, starved_below=64)


@pytest.mark.parametrize(
    ("complete", "pending", "in_flight", "expected"),
    [
        (None, 0, 0, None),  # discovery never started
        (False, 3, 16, "discovery"),  # copy workers wait for files
        (False, 5000, 16, "copy"),  # files wait for copy workers
        (True, 5000, 16, "copy"),
        (True, 0, 2, "copy"),
        (True, 0, 0, "none"),  # everything discovered is finished
    ],
)
def test_bottleneck(complete: bool | None, pending: int, in_flight: int, expected: str) -> None:
    assert _status(complete, pending, in_flight).bottleneck() == expected


def test_discovery_summary_counts_discovered_and_copied() -> None:
    summary = _status(False, pending=10, in_flight=4, done=86).as_dict(now=0.0)["discovery"]
    assert summary == {
        "complete": False,
        "discovered": 100,
        "copied": 86,
        "pending": 10,
        "bottleneck": "discovery",
    }
