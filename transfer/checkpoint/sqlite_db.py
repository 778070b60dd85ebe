"""The blocking half of the SQLite store: one ``sqlite3`` connection and the SQL run on it.

Every method here runs in the store's single database thread (see :mod:`transfer.checkpoint.sqlite`)
and never concurrently with another. Writes run in ``BEGIN IMMEDIATE`` transactions, which take the
file's write lock up front: a claim in one process can never interleave with a claim in another.
The plain statements come from :mod:`transfer.checkpoint.statements`; here is what SQLite does its
own way: opening the file, claims, and the bulk writes of upserts and outcomes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from transfer.checkpoint import batches
from transfer.checkpoint.base import ItemSpec, Share, UpsertCounts, WorkItem
from transfer.checkpoint.schema import CLAIM_COLUMNS, SPEC_COLUMNS, schema_statements, work_from_row
from transfer.checkpoint.statements import REOPEN, REOPEN_MOVED, marks, render
from transfer.errors import StoreError
from transfer.models import ItemState, Rejection

__all__ = ["SqliteDb", "store_error"]

T = TypeVar("T")

_CHUNK = 500  # ids or paths per IN (...) list; far below SQLite's variable limit
_SPEC_SET = ", ".join(f"{c} = ?" for c in SPEC_COLUMNS)
_PENDING = ItemState.PENDING.value
_IN_FLIGHT = ItemState.IN_FLIGHT.value


def current_rows(count: int) -> str:
    """The statement reading the rows of ``count`` items by id. ``+run_id`` keeps SQLite off
    the ``(run_id, ...)`` indexes: with no statistics its planner took one of them for a long
    ``IN`` list and read every row of the run for each batch of outcomes, so recording got
    slower with every file (70 ms a batch at 430,000 items, against 0.7 by primary key)."""
    columns = ", ".join(batches.CURRENT_COLUMNS)
    return f"SELECT {columns} FROM items WHERE +run_id = ? AND id IN ({marks(count)})"


_RECORD = (
    "UPDATE items SET "
    + ", ".join(
        f"{c} = COALESCE(?, {c})" if keep else f"{c} = ?" for c, keep in batches.RECORD_COLUMNS
    )
    + " WHERE id = ?"
)


def store_error(exc: BaseException, path: Path, busy_timeout: float) -> StoreError:
    """The :class:`StoreError` telling a user what is wrong with the store at ``path``."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"store is locked by another process (waited {busy_timeout:g}s): {path}; "
            "is another run using it?"
        )
    if code == sqlite3.SQLITE_READONLY or isinstance(exc, PermissionError):
        return StoreError(f"store is read-only: {path}")
    if code == sqlite3.SQLITE_CANTOPEN:
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return StoreError(f"store is read-only: {path}")
        return StoreError(f"cannot open store: {path}: {exc}")
    if code == sqlite3.SQLITE_FULL:
        return StoreError(f"store cannot be written, the disk is full: {path}")
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return StoreError(f"store is not a valid SQLite database (corrupt?): {path}")
    return StoreError(f"store error: {exc}: {path}")


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    it = iter(values)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


class SqliteDb:
    """One connection to the store file."""

    def __init__(self, path: Path, *, readonly: bool, busy_timeout: float) -> None:
        self.path = path
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    # -- opening -----------------------------------------------------------------------------

    def open(self, run: str, now: float, pragmas: Mapping[str, int]) -> int:
        """Connect, check or create the schema, and join (or create) ``run``; returns its id."""
        try:
            self._connect(pragmas)
            if self.readonly:
                self._schema_statements()  # refuses a store that is not current
                return self._find_run(run)
            with self._transaction() as conn:
                for statement in self._schema_statements():
                    conn.execute(statement)
                return self._join_run(run, now)
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise store_error(exc, self.path, self.busy_timeout) from exc
        except BaseException:
            self.close()
            raise

    def _connect(self, pragmas: Mapping[str, int]) -> None:
        if self.readonly:
            if not self.path.is_file():
                raise StoreError(f"no store at {self.path}")
            query = "?mode=ro"
            # WAL needs its -shm index file; in a read-only directory (a read-only mount, a
            # copy kept for audit) nobody can be writing, so read the file as immutable rather
            # than fail for want of an index SQLite cannot create.
            shm = self.path.with_name(self.path.name + "-shm")
            if not os.access(self.path.parent, os.W_OK) and not shm.exists():
                query += "&immutable=1"
            target, uri = self.path.resolve().as_uri() + query, True
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target, uri = str(self.path), False
        self._conn = sqlite3.connect(
            target,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )
        if self.readonly:
            self._conn.execute("PRAGMA query_only = ON")
        else:
            # Switching to WAL rewrites the file header: refuse someone else's database (or a
            # newer store) before that, so that a wrong store.path never modifies the file. An
            # older store is migrated later, in the transaction that joins the run.
            if self._conn.execute("SELECT 1 FROM sqlite_master").fetchone() is not None:
                self._schema_statements()
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        for name, value in pragmas.items():
            if not name.isidentifier():
                raise StoreError(f"not a pragma name: {name!r}")
            self._conn.execute(f"PRAGMA {name} = {int(value)}")

    def _schema_statements(self) -> list[str]:
        """What brings the file to the current tables (see :func:`schema_statements`)."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        version: int | None = None
        if "schema_version" in tables:
            row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
        return schema_statements(
            "sqlite",
            str(self.path),
            version,
            other_tables=bool(tables),
            writable=not self.readonly,
            newer="upgrade transfer or use another store file",
            older="use a new store file",
        )

    def _find_run(self, run: str) -> int:
        row = self.conn.execute("SELECT id FROM runs WHERE name = ?", (run,)).fetchone()
        if row is None:
            raise StoreError(f"no run named {run!r} in store {self.path}")
        return int(row[0])

    def _join_run(self, run: str, now: float) -> int:
        row = self.conn.execute("SELECT id FROM runs WHERE name = ?", (run,)).fetchone()
        if row is None:
            cur = self.conn.execute(
                "INSERT INTO runs (name, created_at, opened_at) VALUES (?, ?, ?)", (run, now, now)
            )
            return int(cur.lastrowid or 0)
        # Also a write probe: a read-only file fails here, at open, not at the first outcome.
        self.conn.execute("UPDATE runs SET opened_at = ? WHERE id = ?", (now, row[0]))
        return int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise StoreError(f"store is not open: {self.path}")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (disk full does); then there is nothing to undo.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def run_mapped(self, func: Callable[..., T], *args: Any) -> T:
        """Call ``func`` turning sqlite3 errors into :class:`StoreError`."""
        try:
            return func(*args)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path, self.busy_timeout) from exc

    # -- the plain statements -----------------------------------------------------------------

    def fetch(self, statement: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """See :meth:`SqlBackend.fetch`."""
        return self.conn.execute(render(statement, "sqlite"), args).fetchall()

    def execute(self, statement: str, args: Sequence[Any]) -> int:
        """See :meth:`SqlBackend.execute`."""
        with self._transaction() as conn:
            return conn.execute(render(statement, "sqlite"), args).rowcount

    # -- what SQLite does its own way --------------------------------------------------------

    def upsert_items(self, run_id: int, items: Sequence[ItemSpec], now: float) -> UpsertCounts:
        """See :meth:`CheckpointStore.upsert_items`."""
        by_repo: dict[str, list[ItemSpec]] = {}
        for spec in batches.latest_specs(items):
            by_repo.setdefault(spec.repo, []).append(spec)
        stored: dict[tuple[str, str], tuple[Any, ...]] = {}
        with self._transaction() as conn:
            for repo, specs in by_repo.items():
                for chunk in _chunks(specs):
                    for row in conn.execute(
                        f"SELECT {', '.join(batches.STORED_COLUMNS)} FROM items "
                        f"WHERE run_id = ? AND repo = ? AND path IN ({marks(len(chunk))})",
                        (run_id, repo, *(spec.path for spec in chunk)),
                    ):
                        stored[(row[2], row[5])] = row
            plan = batches.plan_upsert([s for specs in by_repo.values() for s in specs], stored)
            conn.executemany(
                f"INSERT INTO items (run_id, {', '.join(SPEC_COLUMNS)}, state, updated_at) "
                f"VALUES ({marks(len(SPEC_COLUMNS) + 3)})",
                [(run_id, *values, _PENDING, now) for values in plan.inserts],
            )
            for reopen, rows in ((REOPEN, plan.reopens), (REOPEN_MOVED, plan.moves)):
                conn.executemany(
                    f"UPDATE items SET {_SPEC_SET}, {reopen}, updated_at = ? WHERE id = ?",
                    [(*values, now, item_id) for item_id, values in rows],
                )
            conn.executemany(
                f"UPDATE items SET {_SPEC_SET}, updated_at = ? WHERE id = ?",
                [(*values, now, item_id) for item_id, values in plan.refreshes],
            )
        return plan.counts

    def claim_batch(
        self, run_id: int, owner: str, limit: int, lease_seconds: float, now: float, share: Share
    ) -> list[WorkItem]:
        """See :meth:`CheckpointStore.claim_batch`: ``BEGIN IMMEDIATE`` holds the file's write
        lock from the first read, so no claimer in any process reads the same rows meanwhile."""
        expires = now + lease_seconds
        columns = f"id, state = '{_IN_FLIGHT}', {', '.join(CLAIM_COLUMNS)}"
        with self._transaction() as conn:
            expired = conn.execute(
                f"SELECT {columns} FROM items WHERE run_id = ? AND lease_expires <= ? "
                f"AND state = '{_IN_FLIGHT}' ORDER BY id LIMIT ?",
                (run_id, now, limit),
            ).fetchall()
            phase = _open_phase(conn, run_id)
            pending = (
                conn.execute(
                    f"SELECT {columns} FROM items WHERE run_id = ? AND state = '{_PENDING}' "
                    "AND phase = ? AND id % ? = ? ORDER BY id LIMIT ?",
                    (run_id, phase, share.of, share.index, limit),
                ).fetchall()
                if phase is not None
                else []
            )
            rows = (
                sorted(expired + pending, key=lambda r: int(r[0]))[:limit] if expired else pending
            )
            conn.executemany(
                f"UPDATE items SET state = '{_IN_FLIGHT}', lease_owner = ?, lease_expires = ?, "
                "started_at = ?, updated_at = ? WHERE id = ?",
                [(owner, expires, now, now, row[0]) for row in rows],
            )
        return [work_from_row(row, expires) for row in rows]

    def commit_records(self, run_id: int, batch: Sequence[batches.Pending]) -> list[Rejection]:
        """Write one batch of outcomes in one transaction; returns the refused ones."""
        with self._transaction() as conn:
            current: list[tuple[Any, ...]] = []
            for chunk in _chunks(sorted({p.item_id for p in batch})):
                current.extend(conn.execute(current_rows(len(chunk)), (run_id, *chunk)))
            writes = batches.decide_outcomes(batch, current)
            conn.executemany(
                _RECORD, [(*values, item_id) for item_id, values in writes.rows.items()]
            )
        return writes.rejected


def _open_phase(conn: sqlite3.Connection, run_id: int) -> int | None:
    """The phase whose pending items may be claimed: the lowest pending one, unless an item of a
    lower phase is still in flight (then none). Two index probes."""
    lowest = "SELECT phase FROM items WHERE run_id = ? AND state = ? ORDER BY phase LIMIT 1"
    pending = conn.execute(lowest, (run_id, _PENDING)).fetchone()
    if pending is None:
        return None
    flying = conn.execute(lowest, (run_id, _IN_FLIGHT)).fetchone()
    if flying is not None and int(flying[0]) < int(pending[0]):
        return None
    return int(pending[0])
