"""The checkpoint store in PostgreSQL: one run shared by worker processes on many machines.

Selected by ``store.url = "postgresql://user@host/db"``. The password never comes from the URL:
it is passed as a :class:`~transfer.redaction.Secret` (``store.password = "${VAR}"``), or asyncpg
finds it in ``PGPASSWORD`` or ``~/.pgpass``. Error messages name the server as
``postgresql://user@host:port/db`` and never carry a password.

What every store does (the batching writer, the checks, paging) is :class:`SqlStore`'s; here is
the connection pool, the error messages, and how many workers share a run (the SQL PostgreSQL runs
its own way is in :mod:`transfer.checkpoint.postgres_db`):

* **claims** take up to ``limit`` rows with ``FOR UPDATE SKIP LOCKED`` and lease them to the
  claimer until ``now + lease_seconds``; the engine's heartbeat renews the leases of the items
  a worker still holds. A worker that dies stops renewing, its leases run out, and the next claim
  by anyone takes those items with ``recheck=True`` (the target is checked before re-sending).
* **outcomes** go through the same batching writer as SQLite: one transaction, one
  ``UPDATE ... FROM unnest(...)`` per batch. A transaction the server aborted only to break a
  deadlock or a serialization conflict is run again, as the :class:`RetryPolicy` decides.
* **outages**: a connection lost in the middle of a run (the server restarted, fast or
  immediate, the connection killed with ``pg_terminate_backend``, or a call left unanswered for
  :data:`_NO_ANSWER` seconds by a hung server or a silent network) pauses the call: it is tried
  again on a fresh pooled connection with backoff (:data:`_OUTAGE`, the one retry owner's
  policy), and ``on_outage`` is told once when the pause starts and once when the store is back.
  A store away longer than ``outage_timeout`` seconds raises :class:`StoreUnreachable` (exit 3;
  the state is resumable: every write is one transaction, and writing an outcome again is
  harmless, since a stale one is dropped by the lease check).
* **named locks** (:meth:`PostgresBackend.exclusive`) are session advisory locks, each held on a
  connection of its own: when the holder's process dies its connection drops and the server
  frees the lock (TCP keepalives, set below, bound how long a vanished machine holds it).

Leases are stamped and compared by the database's clock (``clock_timestamp()``), never a
worker's: a machine whose clock is minutes off can neither steal live leases nor hold expired
ones. Other times (heartbeats, outcome times) come from each worker's own clock.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar, Unpack
from urllib.parse import urlsplit

import anyio
import asyncpg

from transfer.checkpoint import postgres_db as db
from transfer.checkpoint.base import ItemSpec, Share, UpsertCounts, WorkItem
from transfer.checkpoint.batches import Pending
from transfer.checkpoint.statements import render
from transfer.checkpoint.store import SqlStore, StoreOptions
from transfer.errors import StoreError, StoreUnreachable
from transfer.http.retry import RetryPolicy
from transfer.models import Rejection
from transfer.redaction import Secret, redact_dsn, scrub_values

__all__ = ["PostgresBackend", "PostgresStore"]

T = TypeVar("T")

_CONTENDED = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
_CONTENTION = RetryPolicy(
    max_attempts=5,
    base_delay=0.025,
    max_delay=0.25,
    retry_on=lambda error: isinstance(error, _CONTENDED),
)
"""How often, and after what pause, a transaction the server aborted only to break a deadlock or
a serialization conflict is run again (the others have gone through by then)."""
_LOST = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # a connection used again after it broke
)
"""What a server restart or a killed connection looks like from a running call."""
_NO_ANSWER: Final = 60.0
"""Seconds a call may go unanswered before the store counts as away: a hung server or a network
that drops packets (no reset, no error) would otherwise hold a call, and the run, forever."""


_LEAST_PATIENCE: Final = 5.0
"""Seconds every call may wait for its answer, however short ``outage_timeout`` is (with 0, a
wait of none would count every call as unanswered)."""


class _NoAnswer(TimeoutError):
    """A call the server did not answer in time; ``since`` is when it was sent."""

    def __init__(self, since: float, waited: float) -> None:
        super().__init__(f"no answer for {waited:.0f} s")
        self.since = since


_OUTAGE = RetryPolicy(
    max_attempts=1_000_000,  # bounded by outage_timeout, not by tries
    base_delay=0.1,
    max_delay=2.0,
    retry_on=lambda error: isinstance(error, _LOST),
)
"""How a call that lost its connection is tried again while the store is away."""
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
_DRIVER_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
)


def _dsn_password(dsn: str) -> str | None:
    try:
        return urlsplit(dsn).password
    except ValueError:
        return None


class PostgresBackend:
    """A :class:`~transfer.checkpoint.store.SqlBackend` on a pool of connections to ``dsn``
    (see :class:`PostgresStore` for the arguments)."""

    def __init__(
        self,
        dsn: str,
        *,
        password: Secret | None,
        readonly: bool,
        schema: str | None,
        pool_size: int,
        connect_timeout: float,
        lock_poll: float,
        outage_timeout: float = 300.0,
        on_outage: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._where = redact_dsn(dsn)
        self._outage_timeout = outage_timeout
        self.on_outage = on_outage
        self._monotonic = clock
        self._outage_since: float | None = None
        self._readonly = readonly
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
        self._pool: Any = None
        self._connected = False
        self._lock_scope = ""

    @property
    def where(self) -> str:
        """The server and database, as error messages show them (no password)."""
        return self._where

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self, run: str, now: float) -> int:
        """Connect, check (or create) the tables, join ``run``; returns the run's id."""
        try:
            # No connection floor: asyncpg >= 0.32 would otherwise restore it in a background
            # task of its own while the server is away, logging a traceback a second, outside
            # the outage handling here (which reconnects on the next call anyway).
            self._pool = await asyncpg.create_pool(
                min_size=0, max_size=self._pool_size, **self._connect_args
            )
            async with self._pool.acquire() as conn:
                await db.ensure_schema(
                    conn, schema=self._schema, create=not self._readonly, where=self._where
                )
                if self._readonly:
                    run_id = await db.find_run(conn, run, self._where)
                else:
                    run_id = await db.join_run(conn, run, now)
                self._lock_scope = str(await conn.fetchval("SELECT current_schema()"))
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.close()
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                raise self._error(exc) from None
            raise
        self._connected = True
        return run_id

    async def close(self) -> None:
        """Close the pool; a connection stuck on a dead server is dropped after 5 seconds, at
        once when the server is known to be away."""
        self._connected = False
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._outage_since is not None:
            pool.terminate()  # nobody answers: closing politely would only wait
            return
        with anyio.move_on_after(5):
            with contextlib.suppress(Exception):
                await pool.close()
            return
        pool.terminate()  # a connection stuck on a dead server: drop it

    # -- statements --------------------------------------------------------------------------

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
        elif isinstance(exc, _UNREACHABLE) or (not self._connected and isinstance(exc, _LOST)):
            # before the run is joined, a connection that broke under a statement (the server
            # shutting down mid-handshake: asyncpg's "the underlying connection is closed") is
            # the same as no server at all: exit 3, try again later; not a store error (exit 2)
            kind = StoreUnreachable
            verb = "lost the connection to" if self._connected else "cannot reach"
            message = f"{verb} the PostgreSQL store {self._where}: {detail}"
        elif isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError):
            message = f"store is read-only: {self._where}: {detail}"
        elif isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
            message = f"no permission on the PostgreSQL store {self._where}: {detail}"
        else:
            message = f"PostgreSQL store {self._where}: {detail}"
        return kind(self._scrub(message))

    async def _call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``func(connection, *args)`` on a pooled connection, errors mapped, run again when
        the server aborted it only to break a deadlock or a serialization conflict."""

        async def attempt(_: int) -> T:
            async with self._pool.acquire() as conn:
                try:
                    return await func(conn, *args)
                except anyio.get_cancelled_exc_class():
                    # Cut off mid-call (no answer, or the run stops): the connection's state is
                    # unknown, so drop it rather than let the pool reset it on a server that may
                    # never answer (a reset that would outlive this call in the background).
                    conn.terminate()
                    raise

        async def contended(_: int) -> T:
            return await _CONTENTION.run(attempt)

        return await self._call_lost(contended)

    def _lost(self, attempt: int, delay: float, error: Exception) -> None:
        """A call lost its connection: pause (told once), or give up past the timeout. An
        unanswered call counts from when it was sent."""
        now = self._monotonic()
        if self._outage_since is None:
            self._outage_since = error.since if isinstance(error, _NoAnswer) else now
            self._tell(
                f"lost the connection to the PostgreSQL store {self._where} "
                f"({self._scrub(str(error) or type(error).__name__)}); pausing and reconnecting "
                f"for up to {self._outage_timeout:.0f} s (store.outage_timeout)"
            )
        if now - self._outage_since >= self._outage_timeout:
            raise StoreUnreachable(
                f"the PostgreSQL store {self._where} has been unreachable for more than "
                f"{self._outage_timeout:.0f} s (store.outage_timeout): the run stops here and "
                "resumes when the same command is run again once the store is back"
            ) from error

    def _tell(self, line: str) -> None:
        if self.on_outage is not None:
            self.on_outage(line)

    async def fetch(self, statement: str, *args: Any) -> list[Sequence[Any]]:
        """The rows ``statement`` returns."""
        rows = await self._call(_fetch, render(statement, "postgres"), args)
        return [tuple(row) for row in rows]

    async def execute(self, statement: str, *args: Any) -> int:
        """Run a writing ``statement`` (one statement: a transaction of its own); rows touched."""
        return db.rowcount(await self._call(_execute, render(statement, "postgres"), args))

    async def upsert_items(
        self, run_id: int, items: Sequence[ItemSpec], now: float
    ) -> UpsertCounts:
        """See :meth:`CheckpointStore.upsert_items`."""
        return await self._call(db.upsert_items, run_id, items, now)

    async def claim_batch(
        self, run_id: int, owner: str, limit: int, lease_seconds: float, now: float, share: Share
    ) -> list[WorkItem]:
        """See :meth:`CheckpointStore.claim_batch`."""
        return await self._call(db.claim_batch, run_id, owner, limit, lease_seconds, now, share)

    async def commit_records(self, run_id: int, batch: Sequence[Pending]) -> Sequence[Rejection]:
        """Write one batch of outcomes in one transaction; returns the refused ones."""
        return await self._call(db.commit_records, run_id, batch)

    # -- locks -------------------------------------------------------------------------------

    @asynccontextmanager
    async def exclusive(self, run: str, name: str, wait: bool) -> AsyncIterator[bool]:
        """A lock named ``name`` in ``run``, exclusive across every process and machine.

        A session advisory lock on a connection of its own, polled with
        ``pg_try_advisory_lock`` every ``lock_poll`` seconds while waiting (so waiting is
        cancellable and ties up no pooled connection). Closing that connection frees the lock,
        also when the process is killed.
        """
        key = db.advisory_key("transfer:lock", self._lock_scope, run, name)
        conn: Any = None

        async def try_lock(_: int) -> bool:
            nonlocal conn
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(**self._connect_args)
            try:
                return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
            except BaseException:
                conn.terminate()  # the session, and any lock it took, ends with the socket
                conn = None
                raise

        try:
            # the holder is another process: there is no event to wait on, only the server.
            # A server restart while waiting reconnects; one while holding frees the lock
            # server-side (what the locks guard is safe to do twice: see coordination).
            while not (held := await self._call_lost(try_lock)) and wait:  # noqa: ASYNC110
                await anyio.sleep(self._lock_poll)
            yield held
        finally:
            if conn is not None:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    # closing the session frees the lock; no explicit unlock round trip needed
                    await conn.close(timeout=5)

    def _patience(self, sent: float) -> float:
        """Seconds a call sent at ``sent`` may wait for its answer: :data:`_NO_ANSWER` (or
        ``outage_timeout`` when shorter, but never under :data:`_LEAST_PATIENCE`), and during
        an outage no longer than what is left of it."""
        if self._outage_since is None:
            return min(_NO_ANSWER, max(self._outage_timeout, _LEAST_PATIENCE))
        return max(0.0, self._outage_since + self._outage_timeout - sent)

    async def _call_lost(self, attempt: Callable[[int], Awaitable[T]]) -> T:
        """``attempt`` tried again while the store is away (see ``outage_timeout``). Each try
        waits at most :data:`_NO_ANSWER` seconds, and during an outage no longer than what is
        left of it, so the deadline holds even against a server that never answers."""

        async def answered(number: int) -> T:
            sent = self._monotonic()
            with anyio.move_on_after(self._patience(sent)):
                return await attempt(number)
            raise _NoAnswer(sent, self._monotonic() - sent)

        try:
            result = await _OUTAGE.run(answered, on_retry=self._lost)
        except StoreError:
            raise
        except _DRIVER_ERRORS as exc:
            raise self._error(exc) from None
        if self._outage_since is not None:
            away = self._monotonic() - self._outage_since
            self._outage_since = None
            self._tell(f"the PostgreSQL store {self._where} is back after {away:.0f} s; going on")
        return result


async def _fetch(conn: Any, statement: str, args: Sequence[Any]) -> Any:
    return await conn.fetch(statement, *args)


async def _execute(conn: Any, statement: str, args: Sequence[Any]) -> str:
    return str(await conn.execute(statement, *args))


class PostgresStore(SqlStore):
    """A :class:`~transfer.checkpoint.base.CheckpointStore` in the PostgreSQL database ``dsn``.

    ``schema`` puts the tables in that PostgreSQL schema (created when absent) instead of the
    connection's ``search_path``. ``pool_size`` bounds the connections this store object opens,
    plus one per held :meth:`exclusive` lock; ``lock_poll`` is how often a waiting
    :meth:`exclusive` asks again; ``outage_timeout`` how long a lost server is waited for, and
    ``on_outage`` hears one line when that wait starts and one when it ends; ``lease_clock``
    replaces the database's clock for leases (tests only). The other options
    (run, readonly, clock, writer batching) are
    :class:`~transfer.checkpoint.store.SqlStore`'s.
    """

    def __init__(
        self,
        dsn: str,
        *,
        password: Secret | None = None,
        schema: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        lock_poll: float = 0.25,
        outage_timeout: float = 300.0,
        on_outage: Callable[[str], None] | None = None,
        lease_clock: Callable[[], float] | None = None,
        **options: Unpack[StoreOptions],
    ) -> None:
        self._lease_clock = lease_clock
        self._pg = PostgresBackend(
            dsn,
            password=password,
            readonly=options.get("readonly", False),
            schema=schema,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            lock_poll=lock_poll,
            outage_timeout=outage_timeout,
            on_outage=on_outage,
        )
        super().__init__(self._pg, **options)

    @property
    def where(self) -> str:
        """The server and database, as error messages show them (no password)."""
        return self._pg.where

    async def _lease_now(self) -> float:
        """The database server's clock, which every worker of the run shares (``lease_clock``
        instead when given: the contract tests drive leases with a fake clock)."""
        if self._lease_clock is not None:
            return self._lease_clock()
        rows = await self._pg.fetch("SELECT extract(epoch FROM clock_timestamp())::float8")
        return float(rows[0][0])
