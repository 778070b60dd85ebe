"""The checkpoint store in one SQLite file: the default, for runs on one machine.

The stdlib ``sqlite3`` connection lives behind a one-thread limiter (``anyio.to_thread`` with a
``CapacityLimiter(1)``), so the event loop never blocks on the disk and calls never overlap on the
connection. The file is in WAL mode with ``synchronous=NORMAL``: readers in other processes (the
``status`` command opens the store with ``readonly=True``) see committed data while a run writes,
and a commit costs no fsync; a power cut may lose the last commits, which is as safe as a crash
(see :mod:`transfer.checkpoint.writer`). Writers in several processes take turns; one waiting longer
than ``busy_timeout`` gets a :class:`StoreError`.

What every store does (the batching writer, the checks, paging) is :class:`SqlStore`'s; the SQL
SQLite runs its own way is in :mod:`transfer.checkpoint.sqlite_db`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, Unpack

import anyio
import anyio.to_thread

from transfer.checkpoint.base import ItemSpec, Share, UpsertCounts, WorkItem
from transfer.checkpoint.batches import Pending
from transfer.checkpoint.sqlite_db import SqliteDb
from transfer.checkpoint.store import SqlStore, StoreOptions
from transfer.models import Rejection

__all__ = ["SqliteBackend", "SqliteStore"]

T = TypeVar("T")

_HELD: set[tuple[str, str, str]] = set()
"""Named locks held in this process, by (store file, run, name): :meth:`SqliteBackend.exclusive`."""


class SqliteBackend:
    """A :class:`~transfer.checkpoint.store.SqlBackend` on the SQLite file ``db.path``: every
    call runs on the one connection, in the one database thread."""

    def __init__(self, db: SqliteDb, pragmas: Mapping[str, int]) -> None:
        self._db = db
        self._pragmas = dict(pragmas)
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def where(self) -> str:
        """The store file, as messages name it."""
        return str(self._db.path)

    async def _thread(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(
            self._db.run_mapped, func, *args, limiter=self._limiter
        )

    async def open(self, run: str, now: float) -> int:
        """Open the file, check or create the tables, join ``run``; returns the run's id."""
        return await self._thread(self._db.open, run, now, self._pragmas)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        await self._thread(self._db.close)

    async def fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        """The rows ``statement`` returns."""
        return list(await self._thread(self._db.fetch, statement, args))

    async def execute(self, statement: str, *args: Any) -> int:
        """Run a writing ``statement`` in a ``BEGIN IMMEDIATE`` transaction; rows touched."""
        return await self._thread(self._db.execute, statement, args)

    async def upsert_items(
        self, run_id: int, items: Sequence[ItemSpec], now: float
    ) -> UpsertCounts:
        """See :meth:`CheckpointStore.upsert_items`."""
        return await self._thread(self._db.upsert_items, run_id, items, now)

    async def claim_batch(
        self, run_id: int, owner: str, limit: int, lease_seconds: float, now: float, share: Share
    ) -> list[WorkItem]:
        """See :meth:`CheckpointStore.claim_batch`."""
        return await self._thread(
            self._db.claim_batch, run_id, owner, limit, lease_seconds, now, share
        )

    async def commit_records(self, run_id: int, batch: Sequence[Pending]) -> Sequence[Rejection]:
        """Write one batch of outcomes in one transaction; returns the refused ones."""
        return await self._thread(self._db.commit_records, run_id, batch)

    @asynccontextmanager
    async def exclusive(self, run: str, name: str, wait: bool) -> AsyncIterator[bool]:
        """A lock named ``name`` in ``run``, exclusive within this process only.

        Several processes on one SQLite file each get it, so each runs discovery and the side
        phases as it always did (they are idempotent); sharing a run across processes and
        machines is what the PostgreSQL store is for.
        """
        key = (str(self._db.path.resolve()), run, name)
        delay = 0.01
        while key in _HELD:
            if not wait:
                yield False
                return
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.25)
        _HELD.add(key)
        try:
            yield True
        finally:
            _HELD.discard(key)


class SqliteStore(SqlStore):
    """A :class:`~transfer.checkpoint.base.CheckpointStore` in the SQLite file at ``path``.

    A writer waits up to ``busy_timeout`` seconds for another process's write lock. ``pragmas``
    are applied after opening (e.g. ``{"cache_size": -65536}``). The other options (run, readonly,
    clock, writer batching) are :class:`~transfer.checkpoint.store.SqlStore`'s.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 5.0,
        pragmas: Mapping[str, int] | None = None,
        **options: Unpack[StoreOptions],
    ) -> None:
        self._path = Path(path)
        readonly = options.get("readonly", False)
        db = SqliteDb(self._path, readonly=readonly, busy_timeout=busy_timeout)
        super().__init__(SqliteBackend(db, pragmas or {}), **options)

    @classmethod
    def open_readonly(
        cls, path: str | Path, *, run: str = "default", clock: Callable[[], float] = time.time
    ) -> SqliteStore:
        """A store for reading a run that another process may be writing (``status``)."""
        return cls(path, run=run, readonly=True, clock=clock)

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path
