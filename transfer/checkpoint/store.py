"""One checkpoint store over a SQL database: what SQLite and PostgreSQL do alike, written once.

:class:`SqlStore` owns the lifecycle, the batching outcome writer, the read/write checks, queued
records, ``reset`` and paging; it runs the statements of :mod:`transfer.checkpoint.statements` on a
:class:`SqlBackend`, which owns a connection (or pool) and what its dialect does its own way:
opening and the schema check, claims, bulk writes, and named locks.

Outcomes recorded with :meth:`SqlStore.record` go to a :class:`RecordWriter` task that commits
them in batches (``batch_size`` records or ``batch_interval`` seconds, whichever comes first), so a
record costs the caller a list append. A crash loses at most the batch not yet committed, and that
is safe: each of its items is still ``in_flight`` under the dead worker's lease. When the lease
expires, the item is claimed again with ``recheck=True`` and the pipeline finds the finished upload
on the target instead of sending it again. Every other call first waits for the queued outcomes,
so effects follow call order.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypedDict

import anyio

from transfer.checkpoint import statements as sql
from transfer.checkpoint.base import (
    EVERYTHING,
    Counts,
    Item,
    ItemSpec,
    Outcome,
    Share,
    SideRecord,
    UpsertCounts,
    WorkerInfo,
    WorkItem,
    decide_reset,
)
from transfer.checkpoint.batches import Pending
from transfer.checkpoint.schema import decode_json, encode_json, item_from_row
from transfer.checkpoint.writer import RecordWriter, WriterTask
from transfer.errors import StoreError
from transfer.models import ItemState, Rejection

__all__ = ["SqlBackend", "SqlStore", "StoreOptions"]

Row = Sequence[Any]


class StoreOptions(TypedDict, total=False):
    """What every store takes besides where it is (see :class:`SqlStore`)."""

    run: str
    readonly: bool
    clock: Callable[[], float]
    batch_size: int
    batch_interval: float
    max_pending: int


class SqlBackend(Protocol):
    """A SQL database holding checkpoint stores, as :class:`SqlStore` uses it.

    Statements come in as :mod:`~transfer.checkpoint.statements` writes them; the backend renders
    them in its dialect. Every method raises :class:`StoreError` (never a driver's exception).
    """

    @property
    def where(self) -> str:
        """The store as messages name it (never with a password)."""
        ...

    async def open(self, run: str, now: float) -> int:
        """Connect, check (or create) the tables, join ``run``; returns the run's id."""
        ...

    async def close(self) -> None:
        """Disconnect (idempotent)."""
        ...

    async def fetch(self, statement: str, *args: Any) -> list[Row]:
        """The rows ``statement`` returns."""
        ...

    async def execute(self, statement: str, *args: Any) -> int:
        """Run a writing ``statement`` in a transaction of its own; returns the rows it touched."""
        ...

    async def upsert_items(
        self, run_id: int, items: Sequence[ItemSpec], now: float
    ) -> UpsertCounts:
        """See :meth:`CheckpointStore.upsert_items` (``items`` is not empty)."""
        ...

    async def claim_batch(
        self, run_id: int, owner: str, limit: int, lease_seconds: float, now: float, share: Share
    ) -> list[WorkItem]:
        """See :meth:`CheckpointStore.claim_batch` (``limit`` is positive)."""
        ...

    async def commit_records(self, run_id: int, batch: Sequence[Pending]) -> Sequence[Rejection]:
        """Write one batch of outcomes in one transaction; returns the refused ones."""
        ...

    def exclusive(self, run: str, name: str, wait: bool) -> AbstractAsyncContextManager[bool]:
        """See :meth:`CheckpointStore.exclusive`."""
        ...


class SqlStore:
    """A :class:`~transfer.checkpoint.base.CheckpointStore` on ``backend``.

    ``run`` names the run to join (created when absent, unless ``readonly``). ``clock`` gives the
    time in epoch seconds for leases and timestamps. ``batch_size``/``batch_interval`` tune the
    outcome writer; ``max_pending`` bounds its buffer.
    """

    def __init__(
        self,
        backend: SqlBackend,
        *,
        run: str = "default",
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        batch_size: int = 200,
        batch_interval: float = 0.05,
        max_pending: int = 2000,
    ) -> None:
        self._backend = backend
        self._run = run
        self._readonly = readonly
        self._clock = clock
        self._batch = (batch_size, batch_interval, max(max_pending, batch_size))
        self._run_id = 0
        self._writer = self._new_writer()
        self._writer_task = WriterTask()
        self._open = False

    @property
    def run(self) -> str:
        """Name of the run this store object is joined to."""
        return self._run

    @property
    def readonly(self) -> bool:
        """True when opened for reading only."""
        return self._readonly

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._open:
            raise StoreError(f"store is already open: {self._backend.where}")
        self._run_id = await self._backend.open(self._run, self._clock())
        self._open = True
        self._writer = self._new_writer()  # a closed store object may be opened again
        if not self._readonly:
            try:
                await self._writer_task.start(self._writer)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._backend.close()
                self._open = False
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(raise_errors=exc is None)

    async def aclose(self, *, raise_errors: bool = True) -> None:
        """Flush queued outcomes and close; raises what the writer found unless told not to."""
        if not self._open:
            return
        self._open = False
        await self._writer_task.stop(None if self._readonly else self._writer, self._backend.close)
        if raise_errors:
            self._writer.raise_errors()

    # -- plumbing ----------------------------------------------------------------------------

    def _new_writer(self) -> RecordWriter[Pending]:
        size, interval, pending = self._batch
        return RecordWriter(
            self._commit_records, max_batch=size, max_delay=interval, max_pending=pending
        )

    async def _commit_records(self, batch: list[Pending]) -> Sequence[Rejection]:
        return await self._backend.commit_records(self._run_id, batch)

    async def _ready(self, *, write: bool) -> None:
        """Refuse a write to a read-only store or any call to a closed one; then wait for the
        queued outcomes, so that this call sees them."""
        if write and self._readonly:
            raise StoreError(f"store was opened read-only: {self._backend.where}")
        if not self._open:
            raise StoreError(f"store is not open: {self._backend.where}")
        if not self._readonly:
            await self._writer.drain()

    async def _fetch(self, statement: str, *args: Any) -> list[Row]:
        await self._ready(write=False)
        return await self._backend.fetch(statement, *args)

    async def _execute(self, statement: str, *args: Any) -> int:
        await self._ready(write=True)
        return await self._backend.execute(statement, *args)

    # -- meta and discovery ------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """The run's meta value for ``key``, or ``None``."""
        rows = await self._fetch(sql.GET_META, self._run_id, key)
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        """Set the run's meta value for ``key``."""
        await self._execute(sql.SET_META, self._run_id, key, value)

    async def mark_discovered(self, scope: str) -> None:
        """Remember that discovery finished ``scope``."""
        await self._execute(sql.MARK_DISCOVERED, self._run_id, scope, self._clock())

    async def is_discovered(self, scope: str) -> bool:
        """Whether discovery finished ``scope``."""
        return bool(await self._fetch(sql.IS_DISCOVERED, self._run_id, scope))

    async def clear_discovered(self) -> int:
        """Forget all discovered scopes; returns how many."""
        return await self._execute(sql.CLEAR_DISCOVERED, self._run_id)

    # -- items -------------------------------------------------------------------------------

    async def upsert_items(self, items: Sequence[ItemSpec]) -> UpsertCounts:
        """Add or refresh discovered items (see the Protocol)."""
        if not items:
            return UpsertCounts()
        await self._ready(write=True)
        return await self._backend.upsert_items(self._run_id, items, self._clock())

    async def claim_batch(
        self, owner: str, limit: int, lease_seconds: float, *, share: Share = EVERYTHING
    ) -> list[WorkItem]:
        """Lease up to ``limit`` pending items of ``share``, or expired ones, to ``owner``, in
        id order."""
        if limit <= 0:
            return []
        await self._ready(write=True)
        return await self._backend.claim_batch(
            self._run_id, owner, limit, lease_seconds, await self._lease_now(), share
        )

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend ``owner``'s leases; returns how many."""
        now = await self._lease_now()
        return await self._execute(sql.RENEW_LEASES, now + lease_seconds, now, self._run_id, owner)

    async def _lease_now(self) -> float:
        """The time leases are stamped and compared with: this process's clock, unless the
        backend has one every worker shares (PostgreSQL's, so skewed machines cannot steal
        live leases)."""
        return self._clock()

    async def release(self, owner: str) -> int:
        """Put ``owner``'s in-flight items back to pending; returns how many."""
        return await self._execute(sql.RELEASE, self._clock(), self._run_id, owner)

    async def outstanding(self, owner: str) -> bool:
        """Whether anything is pending, or in flight under another owner's lease."""
        rows = await self._fetch(sql.OUTSTANDING, self._run_id, self._run_id, owner)
        return bool(rows[0][0])

    async def lease_owners(self) -> list[str]:
        """See :meth:`CheckpointStore.lease_owners`."""
        return [str(row[0]) for row in await self._fetch(sql.LEASE_OWNERS, self._run_id)]

    async def expire_leases(self, owner: str) -> int:
        """Expire ``owner``'s leases now (it is known dead); returns how many."""
        return await self._execute(sql.EXPIRE_LEASES, self._run_id, owner)

    async def record(self, item_id: int, outcome: Outcome, *, owner: str | None = None) -> None:
        """Queue ``outcome`` for the batched writer (see the Protocol)."""
        if self._readonly:
            raise StoreError(f"store was opened read-only: {self._backend.where}")
        if not self._open:
            raise StoreError(f"store is not open: {self._backend.where}")
        await self._writer.put(Pending(item_id, outcome, owner, self._clock()))

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed; raise what the writer found."""
        if not self._readonly:
            await self._writer.flush()

    async def reset(self, states: Iterable[ItemState]) -> int:
        """Move every item in ``states`` back to pending; returns how many."""
        wanted = decide_reset(states)
        if not wanted:
            return 0
        statement, args = sql.reset(self._run_id, wanted, self._clock())
        return await self._execute(statement, *args)

    async def counts(self) -> Counts:
        """Items and declared bytes per state, overall and per repository."""
        rows = await self._fetch(sql.COUNT_ROWS, self._run_id)
        return Counts.from_rows((str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows)

    async def iter_items(
        self,
        *,
        states: Iterable[ItemState] | None = None,
        repo: str | None = None,
        batch: int = 500,
    ) -> AsyncIterator[Item]:
        """Stream items in id order, ``batch`` rows per query (keyset pages, no cursor held)."""
        wanted = None if states is None else sorted(set(states))
        if wanted == []:
            await self._ready(write=False)
            return
        size = max(batch, 1)
        after = 0
        while True:
            statement, args = sql.items_page(self._run_id, after, wanted, repo, size)
            rows = await self._fetch(statement, *args)
            for row in rows:
                yield item_from_row(row)
            if len(rows) < size:
                return
            after = int(rows[-1][0])

    async def get_item(self, repo: str, path: str) -> Item | None:
        """The item at ``(repo, path)``, or ``None``."""
        rows = await self._fetch(sql.GET_ITEM, self._run_id, repo, path)
        return item_from_row(rows[0]) if rows else None

    # -- side tasks, workers, locks ----------------------------------------------------------

    async def record_side(self, kind: str, key: str, state: str, detail: Mapping[str, Any]) -> None:
        """Insert or replace the side-task record ``(kind, key)``."""
        await self._execute(
            sql.RECORD_SIDE, self._run_id, kind, key, state, encode_json(detail), self._clock()
        )

    async def iter_side(self, kind: str | None = None) -> AsyncIterator[SideRecord]:
        """Stream side-task records, ordered by kind then key (bytewise)."""
        after: tuple[str, str] | None = None
        batch = 500
        while True:
            statement, args = sql.side_page(self._run_id, kind, after, batch)
            rows = await self._fetch(statement, *args)
            for row in rows:
                yield _side(row)
            if len(rows) < batch:
                return
            after = (str(rows[-1][0]), str(rows[-1][1]))

    async def get_side(self, kind: str, key: str) -> SideRecord | None:
        """The side-task record ``(kind, key)``, or ``None``."""
        rows = await self._fetch(sql.GET_SIDE, self._run_id, kind, key)
        return _side(rows[0]) if rows else None

    async def heartbeat_worker(self, owner: str, stats: Mapping[str, Any]) -> None:
        """Record that worker ``owner`` is alive now."""
        now = self._clock()
        await self._execute(sql.HEARTBEAT_WORKER, self._run_id, owner, encode_json(stats), now, now)

    async def list_workers(self) -> list[WorkerInfo]:
        """Every worker that heartbeated in this run, by owner name (bytewise)."""
        rows = await self._fetch(sql.LIST_WORKERS, self._run_id)
        return [WorkerInfo(r[0], decode_json(r[1]), float(r[2]), float(r[3])) for r in rows]

    def exclusive(self, name: str, *, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """A lock named ``name`` in this run; how far it reaches is the backend's (see there)."""
        if not self._open:
            raise StoreError(f"store is not open: {self._backend.where}")
        return self._backend.exclusive(self._run, name, wait)


def _side(row: Row) -> SideRecord:
    return SideRecord(row[0], row[1], row[2], decode_json(row[3]), float(row[4]))


if TYPE_CHECKING:
    from transfer.checkpoint.base import CheckpointStore

    # mypy proves here that SqlStore satisfies the Protocol.
    _conforms: type[CheckpointStore] = SqlStore
