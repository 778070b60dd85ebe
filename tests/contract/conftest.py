"""Fixtures for the CheckpointStore contract suite: one opened store per implementation.

To run the suite against another implementation, add its name to ``STORE_BACKENDS`` and an opener
to ``_OPENERS``: a function ``(tmp_path, clock) -> StoreOpener`` whose result creates a new store
object on the *same* backing storage each time it is called (tests open a second object to check
durability and cross-connection behaviour). Storage must be fresh per test: a PostgreSQL opener can
derive a unique schema or database name from ``tmp_path.name``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from transfer.checkpoint import CheckpointStore, SqliteStore


class FakeClock:
    """A clock that only moves when told to, so leases expire without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StoreOpener(Protocol):
    """Opens a new store object on the test's backing storage (not yet entered)."""

    def __call__(self, *, run: str = "default", **options: Any) -> CheckpointStore: ...


def _sqlite_opener(tmp_path: Path, clock: FakeClock) -> StoreOpener:
    path = tmp_path / "store.sqlite"

    def open_store(*, run: str = "default", **options: Any) -> CheckpointStore:
        options.setdefault("clock", clock)
        return SqliteStore(path, run=run, **options)

    return open_store


_OPENERS: dict[str, Callable[[Path, FakeClock], StoreOpener]] = {"sqlite": _sqlite_opener}
STORE_BACKENDS = ["sqlite"]


@pytest.fixture
def clock() -> FakeClock:
    """The injected clock every store of the test shares."""
    return FakeClock()


@pytest.fixture(params=STORE_BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> StoreOpener:
    """Opens store objects of one implementation, all on the same storage."""
    return _OPENERS[request.param](tmp_path, clock)


@pytest.fixture
async def store(open_store: StoreOpener) -> AsyncIterator[CheckpointStore]:
    """An opened store joined to the default run."""
    async with open_store() as opened:
        yield opened
