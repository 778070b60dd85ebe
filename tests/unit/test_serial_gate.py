"""The serial gate (tests/serial_gate.py): under ``pytest -n 2`` a test marked ``serial`` runs
with no other test beside it, while unmarked tests do run side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_GATE = Path(__file__).resolve().parents[1] / "serial_gate.py"

_TEST = """
import time
from pathlib import Path
import pytest

LOG = Path(__file__).parent / "spans.log"

def _span(name: str, seconds: float) -> None:
    started = time.monotonic()
    time.sleep(seconds)
    with LOG.open("a") as log:
        log.write(f"{{name}} {{started}} {{time.monotonic()}}\\n")

{marker}
def test_{name}_a() -> None:
    _span("{name}_a", 0.6)

def test_{name}_b() -> None:
    _span("{name}_b", 0.6)
"""


def _spans(folder: Path) -> dict[str, tuple[float, float]]:
    lines = (folder / "spans.log").read_text().split("\n")
    return {n: (float(a), float(b)) for n, a, b in (line.split() for line in lines if line)}


def _overlap(one: tuple[float, float], other: tuple[float, float]) -> bool:
    return one[0] < other[1] and other[0] < one[1]


def test_a_serial_test_runs_alone_and_the_others_side_by_side(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["serial_gate"]\n')
    (tmp_path / "test_one.py").write_text(_TEST.format(name="one", marker="@pytest.mark.serial"))
    (tmp_path / "test_two.py").write_text(_TEST.format(name="two", marker=""))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    serial: alone\n")
    locks_in = tmp_path / "tmp"
    locks_in.mkdir()
    env = {**os.environ, "PYTHONPATH": str(_GATE.parent), "TMPDIR": str(locks_in)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_TESTRUNUID", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "loadfile", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    spans = _spans(tmp_path)
    assert len(spans) == 4, spans
    serial = spans["one_a"]
    assert not any(_overlap(serial, span) for name, span in spans.items() if name != "one_a")
    # the unmarked tests of the two files did share the time (the gate holds nothing else)
    beside = [("one_b", "two_a"), ("one_b", "two_b")]
    assert any(_overlap(spans[a], spans[b]) for a, b in beside), spans
    # the controller removes the run's lock files once its workers are done
    assert not list(locks_in.glob("transfer-tests-*")), list(locks_in.iterdir())
