"""Fixtures for the contract suites: one opened store, source or target per implementation.

Sources and targets: ``source_case`` / ``target_case`` run each test over every factory of
``source_cases.SOURCE_CASES`` / ``target_cases.TARGET_CASES``; see those modules to add one.

The CheckpointStore suite:

To run the suite against another implementation, add its name to ``STORE_BACKENDS`` and an opener
to ``_OPENERS``: an async context manager ``(tmp_path, clock) -> StoreOpener`` whose result creates
a new store object on the *same* backing storage each time it is called (tests open a second
object to check durability and cross-connection behaviour), and which removes that storage on
exit. Storage must be fresh per test.

PostgreSQL runs when ``TRANSFER_TEST_POSTGRES_DSN`` names a server (``scripts/test.sh`` starts a
throwaway one; by hand: ``source scripts/postgres.sh && start_postgres``). Each test gets a schema
of its own, dropped afterwards: creating seven tables takes milliseconds, far less than a database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
from source_cases import SOURCE_CASES, SOURCE_FACTORIES, SourceCase
from target_cases import TARGET_CASES, TARGET_FACTORIES, TargetCase

from transfer.checkpoint import CheckpointStore, SqliteStore

POSTGRES_DSN_ENV = "TRANSFER_TEST_POSTGRES_DSN"


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


@asynccontextmanager
async def _sqlite_opener(tmp_path: Path, clock: FakeClock) -> AsyncIterator[StoreOpener]:
    path = tmp_path / "store.sqlite"

    def open_store(*, run: str = "default", **options: Any) -> CheckpointStore:
        options.setdefault("clock", clock)
        return SqliteStore(path, run=run, **options)

    yield open_store


@asynccontextmanager
async def _postgres_opener(tmp_path: Path, clock: FakeClock) -> AsyncIterator[StoreOpener]:
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(
            f"{POSTGRES_DSN_ENV} is not set: run scripts/test.sh, or start a server with "
            "`source scripts/postgres.sh && start_postgres` first"
        )
    import asyncpg

    from transfer.checkpoint.postgres import PostgresStore

    schema = f"contract_{uuid.uuid4().hex[:12]}"

    def open_store(*, run: str = "default", **options: Any) -> CheckpointStore:
        options.setdefault("clock", clock)
        options.setdefault("lease_clock", clock)  # leases too: the server's clock cannot be driven
        return PostgresStore(dsn, run=run, schema=schema, **options)

    try:
        yield open_store
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


_OPENERS: dict[str, Callable[[Path, FakeClock], AbstractAsyncContextManager[StoreOpener]]] = {
    "sqlite": _sqlite_opener,
    "postgres": _postgres_opener,
}
STORE_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def clock() -> FakeClock:
    """The injected clock every store of the test shares."""
    return FakeClock()


@pytest.fixture(params=STORE_BACKENDS)
async def open_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreOpener]:
    """Opens store objects of one implementation, all on the same storage."""
    async with _OPENERS[request.param](tmp_path, clock) as opener:
        yield opener


@pytest.fixture
async def store(open_store: StoreOpener) -> AsyncIterator[CheckpointStore]:
    """An opened store joined to the default run."""
    async with open_store() as opened:
        yield opened


@pytest.fixture(params=SOURCE_CASES)
async def source_case(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SourceCase]:
    """An opened source of one implementation, with the truth about what it holds."""
    async with SOURCE_FACTORIES[request.param](tmp_path) as case:
        yield case


@pytest.fixture(params=TARGET_CASES)
async def target_case(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TargetCase]:
    """An opened target of one implementation, with the service's own view of what it holds."""
    async with TARGET_FACTORIES[request.param](tmp_path) as case:
        yield case
