"""Tests marked ``serial`` run with no other test beside them when the suite runs in parallel
(``pytest -n 2``, as ``scripts/test.sh`` runs it): they measure the machine itself, such as
whether its other cores stand idle (``processes = "auto"``), which a neighbour would change.

Every test holds a shared lock on a file that all workers of one run see
(``PYTEST_XDIST_TESTRUNUID`` names it); a serial test holds it exclusively. A second lock, the
gate, gives the serial test precedence: while it waits, no worker starts a new test, so it
waits only for the tests already running. The locks are taken around setup, call and teardown
alike, and before pytest-timeout's clock starts (``tryfirst``), so waiting is not counted
against a test. The controller removes the two lock files once its workers are done. Without
pytest-xdist nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

MARKER = "serial"


def _lock_files_of(run: str) -> tuple[Path, Path]:
    base = Path(tempfile.gettempdir()) / f"transfer-tests-{run}"
    return base.with_suffix(".gate"), base.with_suffix(".lock")


def _lock_files() -> tuple[Path, Path] | None:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run or not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return _lock_files_of(run)


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    with path.open("ab") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def alone_or_beside(serial: bool) -> Iterator[None]:
    """Hold the run's lock: exclusively for a serial test, shared for any other."""
    files = _lock_files()
    if files is None:
        yield
        return
    gate, lock = files
    if serial:
        with _locked(gate, fcntl.LOCK_EX), _locked(lock, fcntl.LOCK_EX):
            yield
        return
    with ExitStack() as held:
        with _locked(gate, fcntl.LOCK_SH):  # waits while a serial test is waiting or running
            held.enter_context(_locked(lock, fcntl.LOCK_SH))  # kept once the gate is let go
        yield


@pytest.hookimpl(tryfirst=True, wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    with alone_or_beside(item.get_closest_marker(MARKER) is not None):
        return (yield)


_runs_seen: set[str] = set()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """In the controller: note the run each worker locks in, to clean up after."""
    _runs_seen.add(node.workerinput["testrunuid"])  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In the controller, once every worker is done: remove the run's two lock files."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: the others may still hold them
    for run in _runs_seen:
        for path in _lock_files_of(run):
            path.unlink(missing_ok=True)
