"""The checkpoint store in PostgreSQL: one run shared by worker processes on many machines.

Selected by ``store.url = "postgresql://user@host/db"``. The password never comes from the URL:
it is passed as a :class:`~transfer.redaction.Secret` (``store.password = "${VAR}"``), or asyncpg
finds it in ``PGPASSWORD`` or ``~/.pgpass``. Error messages name the server as
``postgresql://user@host:port/db`` and never carry a password.

How many workers share a run (the SQL itself is in :mod:`transfer.checkpoint.postgres_db`):

* **claims** take up to ``limit`` rows with ``FOR UPDATE SKIP LOCKED`` and lease them to the
  claimer until ``now + lease_seconds``; the engine's heartbeat renews the leases of the items
  a worker still holds. A worker that dies stops renewing, its leases run out, and the next claim
  by anyone takes those items with ``recheck=True`` (the target is checked before re-sending).
* **outcomes** go through the same batching :class:`RecordWriter` as SQLite: one transaction,
  one ``UPDATE ... FROM unnest(...)`` per batch.
* **named locks** (:meth:`PostgresStore.exclusive`) are session advisory locks, each held on a
  connection of its own: when the holder's process dies its connection drops and the server
  frees the lock (TCP keepalives, set below, bound how long a vanished machine holds it).

Times (leases, heartbeats) come from each worker's own clock, as with SQLite: machines sharing a
run must keep their clocks in step (NTP) to well within ``lease_seconds``.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit

import anyio
import asyncpg

from transfer.checkpoint import postgres_db as db
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
from transfer.checkpoint.writer import RecordWriter, WriterTask
from transfer.errors import IllegalTransition, StoreError, StoreUnreachable
from transfer.models import ItemState, Rejection, is_legal_transition
from transfer.redaction import Secret, redact_dsn, scrub_values

__all__ = ["PostgresStore"]

T = TypeVar("T")

_RETRIES = 5  # transactions a deadlock or serialization failure aborted are re-run this often
_KEEPALIVE = {
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
_REFUSED = (
    asyncpg.exceptions.InvalidPasswordError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)


def _dsn_password(dsn: str) -> str | None:
    try:
        return urlsplit(dsn).password
    except ValueError:
        return None


class PostgresStore:
    """A :class:`~transfer.checkpoint.base.CheckpointStore` in the PostgreSQL database ``dsn``.

    ``run`` names the run to join (created when absent, unless ``readonly``). ``schema`` puts
    the tables in that PostgreSQL schema (created when absent) instead of the connection's
    ``search_path``. ``pool_size`` bounds the connections this store object opens, plus one per
    held :meth:`exclusive` lock. ``clock`` gives epoch seconds for leases and timestamps;
    ``batch_size``/``batch_interval``/``max_pending`` tune the outcome writer.
    """

    def __init__(
        self,
        dsn: str,
        *,
        run: str = "default",
        password: Secret | None = None,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        schema: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        lock_poll: float = 0.25,
        batch_size: int = 200,
        batch_interval: float = 0.05,
        max_pending: int = 2000,
    ) -> None:
        self._where = redact_dsn(dsn)
        self._run = run
        self._readonly = readonly
        self._clock = clock
        self._schema = schema
        # never shown, whatever a driver message may quote
        self._secrets = [s for s in (password and password.reveal(), _dsn_password(dsn)) if s]
        settings = {"application_name": "transfer", **_KEEPALIVE}
        if schema is not None:
            settings["search_path"] = '"' + schema.replace('"', '""') + '"'
        if readonly:
            settings["default_transaction_read_only"] = "on"
        self._connect_args: dict[str, Any] = {
            "dsn": dsn,
            "password": password.reveal() if password else None,
            "timeout": connect_timeout,
            "server_settings": settings,
        }
        self._pool_size = max(2, pool_size)
        self._lock_poll = lock_poll
        self._batch = (batch_size, batch_interval, max(max_pending, batch_size))
        self._pool: Any = None
        self._run_id = 0
        self._lock_scope = ""
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

    @property
    def where(self) -> str:
        """The server and database, as error messages show them (no password)."""
        return self._where

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._open:
            raise StoreError(f"store is already open: {self._where}")
        try:
            self._pool = await asyncpg.create_pool(
                min_size=1, max_size=self._pool_size, **self._connect_args
            )
            async with self._pool.acquire() as conn:
                await db.ensure_schema(
                    conn, schema=self._schema, create=not self._readonly, where=self._where
                )
                if self._readonly:
                    self._run_id = await db.find_run(conn, self._run, self._where)
                else:
                    self._run_id = await db.join_run(conn, self._run, self._clock())
                self._lock_scope = str(await conn.fetchval("SELECT current_schema()"))
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._close_pool()
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                raise self._error(exc) from None
            raise
        self._open = True
        self._writer = self._new_writer()  # a closed store object may be opened again
        if not self._readonly:
            await self._writer_task.start(self._writer)
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
        await self._writer_task.stop(None if self._readonly else self._writer, self._close_pool)
        if raise_errors:
            self._writer.raise_errors()

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with anyio.move_on_after(5):
            with contextlib.suppress(Exception):
                await pool.close()
            return
        pool.terminate()  # a connection stuck on a dead server: drop it

    # -- plumbing ----------------------------------------------------------------------------

    def _new_writer(self) -> RecordWriter[db.Pending]:
        size, interval, pending = self._batch
        return RecordWriter(
            self._commit_records, max_batch=size, max_delay=interval, max_pending=pending
        )

    def _scrub(self, text: str) -> str:
        return " ".join(scrub_values(text, self._secrets).split())  # one line

    def _error(self, exc: BaseException) -> StoreError:
        """The :class:`StoreError` telling a user what went wrong with the store."""
        if isinstance(exc, StoreError):
            return exc
        detail = str(exc) or type(exc).__name__
        kind: type[StoreError] = StoreError
        if isinstance(exc, _REFUSED):
            kind = StoreUnreachable
            message = (
                f"PostgreSQL store {self._where} refused the credentials: {detail} "
                "(the password comes from store.password, PGPASSWORD or ~/.pgpass)"
            )
        elif isinstance(exc, _UNREACHABLE):
            kind = StoreUnreachable
            verb = "lost the connection to" if self._open else "cannot reach"
            message = f"{verb} the PostgreSQL store {self._where}: {detail}"
        elif isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError):
            message = f"store is read-only: {self._where}: {detail}"
        elif isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
            message = f"no permission on the PostgreSQL store {self._where}: {detail}"
        else:
            message = f"PostgreSQL store {self._where}: {detail}"
        return kind(self._scrub(message))

    async def _call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``func(connection, *args)`` on a pooled connection, errors mapped, retried when the
        server aborted it only to break a deadlock or a serialization conflict."""
        for attempt in range(_RETRIES):
            try:
                async with self._pool.acquire() as conn:
                    return await func(conn, *args)
            except (
                asyncpg.exceptions.DeadlockDetectedError,
                asyncpg.exceptions.SerializationError,
            ) as exc:
                if attempt == _RETRIES - 1:
                    raise self._error(exc) from None
                await anyio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            except (OSError, TimeoutError, asyncpg.exceptions.PostgresError) as exc:
                raise self._error(exc) from None
            except asyncpg.exceptions.InterfaceError as exc:
                raise self._error(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        if not self._open:
            raise StoreError(f"store is not open: {self._where}")
        if not self._readonly:
            await self._writer.drain()
        return await self._call(func, *args)

    async def _write(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self._readonly:
            raise StoreError(f"store was opened read-only: {self._where}")
        return await self._read(func, *args)

    async def _commit_records(self, batch: list[db.Pending]) -> Sequence[Rejection]:
        return await self._call(db.commit_records, self._run_id, batch)

    # -- meta and discovery ------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """The run's meta value for ``key``, or ``None``."""
        return await self._read(db.get_meta, self._run_id, key)

    async def set_meta(self, key: str, value: str) -> None:
        """Set the run's meta value for ``key``."""
        await self._write(db.set_meta, self._run_id, key, value)

    async def mark_discovered(self, scope: str) -> None:
        """Remember that discovery finished ``scope``."""
        await self._write(db.mark_discovered, self._run_id, scope, self._clock())

    async def is_discovered(self, scope: str) -> bool:
        """Whether discovery finished ``scope``."""
        return await self._read(db.is_discovered, self._run_id, scope)

    async def clear_discovered(self) -> int:
        """Forget all discovered scopes; returns how many."""
        return await self._write(db.clear_discovered, self._run_id)

    # -- items -------------------------------------------------------------------------------

    async def upsert_items(self, items: Sequence[ItemSpec]) -> UpsertCounts:
        """Add or refresh discovered items (see the Protocol)."""
        if not items:
            return UpsertCounts()
        return await self._write(db.upsert_items, self._run_id, items, self._clock())

    async def claim_batch(self, owner: str, limit: int, lease_seconds: float) -> list[WorkItem]:
        """Lease up to ``limit`` pending or expired items to ``owner``, in id order."""
        if limit <= 0:
            return []
        return await self._write(
            db.claim_batch, self._run_id, owner, limit, lease_seconds, self._clock()
        )

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend ``owner``'s leases; returns how many."""
        return await self._write(db.renew_leases, self._run_id, owner, lease_seconds, self._clock())

    async def release(self, owner: str) -> int:
        """Put ``owner``'s in-flight items back to pending; returns how many."""
        return await self._write(db.release, self._run_id, owner, self._clock())

    async def outstanding(self, owner: str) -> bool:
        """Whether anything is pending, or in flight under another owner's lease."""
        return await self._read(db.outstanding, self._run_id, owner)

    async def expire_leases(self, owner: str) -> int:
        """Expire ``owner``'s leases now (it is known dead); returns how many."""
        return await self._write(db.expire_leases, self._run_id, owner)

    async def record(self, item_id: int, outcome: Outcome, *, owner: str | None = None) -> None:
        """Queue ``outcome`` for the batched writer (see the Protocol)."""
        if self._readonly:
            raise StoreError(f"store was opened read-only: {self._where}")
        if not self._open:
            raise StoreError(f"store is not open: {self._where}")
        await self._writer.put(db.Pending(item_id, outcome, owner, self._clock()))

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
        return await self._write(db.reset, self._run_id, wanted, self._clock())

    async def counts(self) -> Counts:
        """Items and declared bytes per state, overall and per repository."""
        return Counts.from_rows(await self._read(db.count_rows, self._run_id))

    async def iter_items(
        self,
        *,
        states: Iterable[ItemState] | None = None,
        repo: str | None = None,
        batch: int = 500,
    ) -> AsyncIterator[Item]:
        """Stream items in id order, ``batch`` rows per query (keyset pages, no cursor held)."""
        wanted = None if states is None else sorted(set(states))
        size = max(batch, 1)
        after = 0
        while True:
            page = await self._read(db.items_page, self._run_id, after, wanted, repo, size)
            for item in page:
                yield item
            if len(page) < size:
                return
            after = page[-1].id

    async def get_item(self, repo: str, path: str) -> Item | None:
        """The item at ``(repo, path)``, or ``None``."""
        return await self._read(db.get_item, self._run_id, repo, path)

    # -- side tasks, workers, locks ----------------------------------------------------------

    async def record_side(self, kind: str, key: str, state: str, detail: Mapping[str, Any]) -> None:
        """Insert or replace the side-task record ``(kind, key)``."""
        await self._write(db.record_side, self._run_id, kind, key, state, detail, self._clock())

    async def iter_side(self, kind: str | None = None) -> AsyncIterator[SideRecord]:
        """Stream side-task records, ordered by kind then key."""
        after: tuple[str, str] | None = None
        batch = 500
        while True:
            page = await self._read(db.side_page, self._run_id, kind, after, batch)
            for record in page:
                yield record
            if len(page) < batch:
                return
            after = (page[-1].kind, page[-1].key)

    async def get_side(self, kind: str, key: str) -> SideRecord | None:
        """The side-task record ``(kind, key)``, or ``None``."""
        return await self._read(db.get_side, self._run_id, kind, key)

    async def heartbeat_worker(self, owner: str, stats: Mapping[str, Any]) -> None:
        """Record that worker ``owner`` is alive now."""
        await self._write(db.heartbeat_worker, self._run_id, owner, stats, self._clock())

    async def list_workers(self) -> list[WorkerInfo]:
        """Every worker that heartbeated in this run, by owner name."""
        return await self._read(db.list_workers, self._run_id)

    @asynccontextmanager
    async def exclusive(self, name: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """A lock named ``name`` in this run, exclusive across every process and machine.

        A session advisory lock on a connection of its own, polled with
        ``pg_try_advisory_lock`` every ``lock_poll`` seconds while waiting (so waiting is
        cancellable and ties up no pooled connection). Closing that connection frees the lock,
        also when the process is killed.
        """
        if not self._open:
            raise StoreError(f"store is not open: {self._where}")
        key = db.advisory_key("transfer:lock", self._lock_scope, self._run, name)
        try:
            conn = await asyncpg.connect(**self._connect_args)
        except (OSError, TimeoutError, asyncpg.exceptions.PostgresError) as exc:
            raise self._error(exc) from None
        try:
            # the holder is another process: there is no event to wait on, only the server
            while not (held := await self._try_lock(conn, key)) and wait:  # noqa: ASYNC110
                await anyio.sleep(self._lock_poll)
            yield held
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                # closing the session frees the lock; no explicit unlock round trip needed
                await conn.close(timeout=5)

    async def _try_lock(self, conn: Any, key: int) -> bool:
        try:
            return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
        except (OSError, TimeoutError, asyncpg.exceptions.PostgresError) as exc:
            raise self._error(exc) from None
        except asyncpg.exceptions.InterfaceError as exc:
            raise self._error(exc) from None


if TYPE_CHECKING:
    # mypy proves here that PostgresStore satisfies the Protocol.
    _conforms: type[CheckpointStore] = PostgresStore
