"""The checkpoint store in one SQLite file: the default, for runs on one machine.

The stdlib ``sqlite3`` connection lives behind a one-thread limiter (``anyio.to_thread`` with a
``CapacityLimiter(1)``), so the event loop never blocks on the disk and calls never overlap on the
connection. The file is in WAL mode with ``synchronous=NORMAL``: readers in other processes (the
``status`` command opens the store with ``readonly=True``) see committed data while a run writes,
and a commit costs no fsync; a power cut may lose the last commits, which is as safe as a crash
(see :mod:`transfer.checkpoint.writer`). Writers in several processes take turns; one waiting longer
than ``busy_timeout`` gets a :class:`StoreError`.

Outcomes recorded with :meth:`SqliteStore.record` go to a :class:`RecordWriter` task that commits
them in batches (``batch_size`` records or ``batch_interval`` seconds, whichever comes first), so a
record costs the caller a list append. A crash loses at most the batch not yet committed, and that
is safe: each of its items is still ``in_flight`` under the dead worker's lease in the file. When
the lease expires, the item is claimed again with ``recheck=True`` and the pipeline finds the
finished upload on the target instead of sending it again. Every other call first waits
for the queued outcomes, so effects follow call order.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import anyio.to_thread

from transfer.checkpoint.base import (
    CheckpointStore,
    Counts,
    Item,
    ItemSpec,
    Outcome,
    SideRecord,
    UpsertCounts,
    WorkerInfo,
    WorkItem,
)
from transfer.checkpoint.sqlite_db import Pending, SqliteDb
from transfer.checkpoint.writer import RecordWriter, WriterTask
from transfer.errors import IllegalTransition, StoreError
from transfer.models import ItemState, Rejection, is_legal_transition

__all__ = ["SqliteStore"]

T = TypeVar("T")

_HELD: set[tuple[str, str, str]] = set()
"""Named locks held in this process, by (store file, run, name): :meth:`SqliteStore.exclusive`."""


class SqliteStore:
    """A :class:`~transfer.checkpoint.base.CheckpointStore` in the SQLite file at ``path``.

    ``run`` names the run to join (created when absent, unless ``readonly``). ``clock`` gives the
    time in epoch seconds for leases and timestamps. ``batch_size``/``batch_interval`` tune the
    outcome writer; ``max_pending`` bounds its buffer. ``pragmas`` are applied after opening
    (e.g. ``{"cache_size": -65536}``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        run: str = "default",
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
        batch_size: int = 200,
        batch_interval: float = 0.05,
        max_pending: int = 2000,
        pragmas: Mapping[str, int] | None = None,
    ) -> None:
        self._path = Path(path)
        self._run = run
        self._readonly = readonly
        self._clock = clock
        self._db = SqliteDb(self._path, readonly=readonly, busy_timeout=busy_timeout)
        self._pragmas = dict(pragmas or {})
        self._limiter = anyio.CapacityLimiter(1)
        self._batch = (batch_size, batch_interval, max(max_pending, batch_size))
        self._writer = self._new_writer()
        self._writer_task = WriterTask()
        self._open = False

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
            raise StoreError(f"store is already open: {self._path}")
        await self._thread(self._db.open, self._run, self._clock(), self._pragmas)
        self._open = True
        self._writer = self._new_writer()  # a closed store object may be opened again
        if not self._readonly:
            try:
                await self._writer_task.start(self._writer)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._thread(self._db.close)
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
        await self._writer_task.stop(
            None if self._readonly else self._writer, lambda: self._thread(self._db.close)
        )
        if raise_errors:
            self._writer.raise_errors()

    # -- plumbing ----------------------------------------------------------------------------

    def _new_writer(self) -> RecordWriter[Pending]:
        size, interval, pending = self._batch
        return RecordWriter(
            self._commit_records, max_batch=size, max_delay=interval, max_pending=pending
        )

    async def _thread(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(
            self._db.run_mapped, func, *args, limiter=self._limiter
        )

    async def _read(self, func: Callable[..., T], *args: Any) -> T:
        if not self._open:
            raise StoreError(f"store is not open: {self._path}")
        if not self._readonly:
            await self._writer.drain()
        return await self._thread(func, *args)

    async def _write(self, func: Callable[..., T], *args: Any) -> T:
        if self._readonly:
            raise StoreError(f"store was opened read-only: {self._path}")
        return await self._read(func, *args)

    async def _commit_records(self, batch: list[Pending]) -> Sequence[Rejection]:
        return await self._thread(self._db.commit_records, batch)

    # -- meta and discovery ------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """The run's meta value for ``key``, or ``None``."""
        return await self._read(self._db.get_meta, key)

    async def set_meta(self, key: str, value: str) -> None:
        """Set the run's meta value for ``key``."""
        await self._write(self._db.set_meta, key, value)

    async def mark_discovered(self, scope: str) -> None:
        """Remember that discovery finished ``scope``."""
        await self._write(self._db.mark_discovered, scope, self._clock())

    async def is_discovered(self, scope: str) -> bool:
        """Whether discovery finished ``scope``."""
        return await self._read(self._db.is_discovered, scope)

    async def clear_discovered(self) -> int:
        """Forget all discovered scopes; returns how many."""
        return await self._write(self._db.clear_discovered)

    # -- items -------------------------------------------------------------------------------

    async def upsert_items(self, items: Sequence[ItemSpec]) -> UpsertCounts:
        """Add or refresh discovered items (see the Protocol)."""
        if not items:
            return UpsertCounts()
        return await self._write(self._db.upsert_items, items, self._clock())

    async def claim_batch(self, owner: str, limit: int, lease_seconds: float) -> list[WorkItem]:
        """Lease up to ``limit`` pending or expired items to ``owner``, in id order."""
        if limit <= 0:
            return []
        return await self._write(self._db.claim_batch, owner, limit, lease_seconds, self._clock())

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend ``owner``'s leases; returns how many."""
        return await self._write(self._db.renew_leases, owner, lease_seconds, self._clock())

    async def release(self, owner: str) -> int:
        """Put ``owner``'s in-flight items back to pending; returns how many."""
        return await self._write(self._db.release, owner, self._clock())

    async def outstanding(self, owner: str) -> bool:
        """Whether anything is pending, or in flight under another owner's lease."""
        return await self._read(self._db.outstanding, owner)

    async def expire_leases(self, owner: str) -> int:
        """Expire ``owner``'s leases now (it is known dead); returns how many."""
        return await self._write(self._db.expire_leases, owner)

    async def record(self, item_id: int, outcome: Outcome, *, owner: str | None = None) -> None:
        """Queue ``outcome`` for the batched writer (see the Protocol)."""
        if self._readonly:
            raise StoreError(f"store was opened read-only: {self._path}")
        if not self._open:
            raise StoreError(f"store is not open: {self._path}")
        await self._writer.put(Pending(item_id, outcome, owner, self._clock()))

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed; raise what the writer found."""
        if not self._readonly:
            await self._writer.flush()

    async def reset(self, states: Iterable[ItemState]) -> int:
        """Move every item in ``states`` back to pending; returns how many."""
        wanted = sorted(set(states))
        refused = [
            Rejection(None, state, ItemState.PENDING, "not a legal transition")
            for state in wanted
            if not is_legal_transition(state, ItemState.PENDING)
        ]
        if refused:
            raise IllegalTransition(refused)
        if not wanted:
            return 0
        return await self._write(self._db.reset, wanted, self._clock())

    async def counts(self) -> Counts:
        """Items and declared bytes per state, overall and per repository."""
        return Counts.from_rows(await self._read(self._db.count_rows))

    async def iter_items(
        self,
        *,
        states: Iterable[ItemState] | None = None,
        repo: str | None = None,
        batch: int = 500,
    ) -> AsyncIterator[Item]:
        """Stream items in id order, ``batch`` rows per query."""
        wanted = None if states is None else sorted(set(states))
        size = max(batch, 1)
        after = 0
        while True:
            page = await self._read(self._db.items_page, after, wanted, repo, size)
            for item in page:
                yield item
            if len(page) < size:
                return
            after = page[-1].id

    async def get_item(self, repo: str, path: str) -> Item | None:
        """The item at ``(repo, path)``, or ``None``."""
        return await self._read(self._db.get_item, repo, path)

    # -- side tasks and workers --------------------------------------------------------------

    async def record_side(self, kind: str, key: str, state: str, detail: Mapping[str, Any]) -> None:
        """Insert or replace the side-task record ``(kind, key)``."""
        await self._write(self._db.record_side, kind, key, state, detail, self._clock())

    async def iter_side(self, kind: str | None = None) -> AsyncIterator[SideRecord]:
        """Stream side-task records, ordered by kind then key."""
        after: tuple[str, str] | None = None
        batch = 500
        while True:
            page = await self._read(self._db.side_page, kind, after, batch)
            for record in page:
                yield record
            if len(page) < batch:
                return
            after = (page[-1].kind, page[-1].key)

    async def get_side(self, kind: str, key: str) -> SideRecord | None:
        """The side-task record ``(kind, key)``, or ``None``."""
        return await self._read(self._db.get_side, kind, key)

    async def heartbeat_worker(self, owner: str, stats: Mapping[str, Any]) -> None:
        """Record that worker ``owner`` is alive now."""
        await self._write(self._db.heartbeat_worker, owner, stats, self._clock())

    async def list_workers(self) -> list[WorkerInfo]:
        """Every worker that heartbeated in this run, by owner name."""
        return await self._read(self._db.list_workers)

    @asynccontextmanager
    async def exclusive(self, name: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """A lock named ``name`` in this run, exclusive within this process only.

        Several processes on one SQLite file each get it, so each runs discovery and the side
        phases as it always did (they are idempotent); sharing a run across processes and
        machines is what the PostgreSQL store is for.
        """
        key = (str(self._path.resolve()), self._run, name)
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


if TYPE_CHECKING:
    # mypy proves here that SqliteStore satisfies the Protocol.
    _conforms: type[CheckpointStore] = SqliteStore
