"""The blocking half of the SQLite store: one ``sqlite3`` connection and the SQL run on it.

Every method here runs in the store's single database thread (see :mod:`transfer.checkpoint.sqlite`)
and never concurrently with another. Writes run in ``BEGIN IMMEDIATE`` transactions, which take the
file's write lock up front: a claim in one process can never interleave with a claim in another.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from transfer.checkpoint.base import (
    CurrentState,
    Item,
    ItemSpec,
    Outcome,
    SideRecord,
    UpsertCounts,
    WorkerInfo,
    WorkItem,
    content_changed,
    decide_record,
)
from transfer.checkpoint.schema import (
    ITEM_COLUMNS,
    SCHEMA_VERSION,
    SPEC_COLUMNS,
    ddl,
    decode_json,
    encode_json,
    item_from_row,
    migration,
    spec_from_row,
    spec_to_row,
)
from transfer.errors import IllegalTransition, StoreError
from transfer.models import ItemState, Rejection, is_legal_transition

__all__ = ["Pending", "SqliteDb", "store_error"]

T = TypeVar("T")

_CHUNK = 500  # ids or paths per IN (...) list; far below SQLite's variable limit
_COLS = ", ".join(ITEM_COLUMNS)
_SPEC_SET = ", ".join(f"{c} = ?" for c in SPEC_COLUMNS)
_PENDING = ItemState.PENDING.value
_IN_FLIGHT = ItemState.IN_FLIGHT.value


class Pending(NamedTuple):
    """One queued outcome: for which item, what, whose lease, and when it was recorded."""

    item_id: int
    outcome: Outcome
    owner: str | None
    at: float


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


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqliteDb:
    """One connection to the store file, joined to one run once :meth:`open` returned."""

    def __init__(self, path: Path, *, readonly: bool, busy_timeout: float) -> None:
        self.path = path
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._run_id = 0

    # -- opening -----------------------------------------------------------------------------

    def open(self, run: str, now: float, pragmas: Mapping[str, int]) -> None:
        """Connect, check or create the schema, and join (or create) ``run``."""
        try:
            self._connect(pragmas)
            if self.readonly:
                self._check_schema(create=False)
                self._run_id = self._find_run(run)
            else:
                with self._transaction():
                    self._check_schema(create=True)
                    self._run_id = self._join_run(run, now)
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
            # newer store) before that, so that a wrong store.path never modifies the file.
            if self._conn.execute("SELECT 1 FROM sqlite_master").fetchone() is not None:
                self._check_schema(create=False, upgrade=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        for name, value in pragmas.items():
            if not name.isidentifier():
                raise StoreError(f"not a pragma name: {name!r}")
            self._conn.execute(f"PRAGMA {name} = {int(value)}")

    def _check_schema(self, *, create: bool, upgrade: bool = True) -> None:
        """Refuse a file that is not a store, or a newer store; create the tables (``create``)
        and migrate an older store (``upgrade``, which a read-only store cannot do)."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        if "schema_version" not in tables:
            if tables or not create:
                raise StoreError(f"not a transfer checkpoint store: {self.path}")
            for statement in ddl("sqlite"):
                self.conn.execute(statement)
            self.conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = row[0] if row and row[0] is not None else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this transfer "
                f"understands ({SCHEMA_VERSION}); upgrade transfer or use another store file"
            )
        if version == SCHEMA_VERSION or not upgrade:
            return
        try:
            statements = migration("sqlite", version)
        except KeyError:
            raise StoreError(
                f"store {self.path} has schema version {version}, which this transfer cannot "
                f"migrate to {SCHEMA_VERSION}; use a new store file"
            ) from None
        if self.readonly:
            raise StoreError(
                f"store {self.path} has schema version {version}: run transfer migrate once "
                f"to bring it to {SCHEMA_VERSION}"
            )
        for statement in statements:
            self.conn.execute(statement)
        self.conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

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

    # -- meta and discovery ------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """See :meth:`CheckpointStore.get_meta`."""
        row = self.conn.execute(
            "SELECT value FROM meta WHERE run_id = ? AND key = ?", (self._run_id, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """See :meth:`CheckpointStore.set_meta`."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (run_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                (self._run_id, key, value),
            )

    def mark_discovered(self, scope: str, now: float) -> None:
        """See :meth:`CheckpointStore.mark_discovered`."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO discovered (run_id, scope, discovered_at) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, scope) DO UPDATE SET discovered_at = excluded.discovered_at",
                (self._run_id, scope, now),
            )

    def is_discovered(self, scope: str) -> bool:
        """See :meth:`CheckpointStore.is_discovered`."""
        row = self.conn.execute(
            "SELECT 1 FROM discovered WHERE run_id = ? AND scope = ?", (self._run_id, scope)
        ).fetchone()
        return row is not None

    def clear_discovered(self) -> int:
        """See :meth:`CheckpointStore.clear_discovered`."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM discovered WHERE run_id = ?", (self._run_id,)).rowcount

    # -- items -------------------------------------------------------------------------------

    def upsert_items(self, items: Sequence[ItemSpec], now: float) -> UpsertCounts:
        """See :meth:`CheckpointStore.upsert_items`."""
        latest = {(spec.repo, spec.path): spec for spec in items}
        by_repo: dict[str, list[ItemSpec]] = {}
        for spec in latest.values():
            by_repo.setdefault(spec.repo, []).append(spec)
        inserts: list[tuple[Any, ...]] = []
        reopens: list[tuple[Any, ...]] = []
        refreshes: list[tuple[Any, ...]] = []
        with self._transaction() as conn:
            for repo, specs in by_repo.items():
                for chunk in _chunks(specs):
                    stored = {
                        row[5]: row
                        for row in conn.execute(
                            f"SELECT id, state, {', '.join(SPEC_COLUMNS)} FROM items "
                            f"WHERE run_id = ? AND repo = ? AND path IN ({_marks(len(chunk))})",
                            (self._run_id, repo, *(spec.path for spec in chunk)),
                        )
                    }
                    for spec in chunk:
                        values = spec_to_row(spec)
                        row = stored.get(spec.path)
                        if row is None:
                            inserts.append((self._run_id, *values, _PENDING, now))
                        elif tuple(row[2:]) != values:
                            if content_changed(spec_from_row(row[2:]), spec):
                                self._check_reopen(int(row[0]), ItemState(row[1]))
                                reopens.append((*values, now, row[0]))
                            else:
                                refreshes.append((*values, now, row[0]))
            conn.executemany(
                f"INSERT INTO items (run_id, {', '.join(SPEC_COLUMNS)}, state, updated_at) "
                f"VALUES ({_marks(len(SPEC_COLUMNS) + 3)})",
                inserts,
            )
            conn.executemany(
                f"UPDATE items SET {_SPEC_SET}, state = '{_PENDING}', attempts = 0, "
                "last_error = NULL, http_status = NULL, bytes_transferred = 0, how = NULL, "
                "started_at = NULL, finished_at = NULL, duration = NULL, target_sha1 = NULL, "
                "target_sha256 = NULL, target_md5 = NULL, lease_owner = NULL, "
                "lease_expires = NULL, updated_at = ? WHERE id = ?",
                reopens,
            )
            conn.executemany(
                f"UPDATE items SET {_SPEC_SET}, updated_at = ? WHERE id = ?", refreshes
            )
        unchanged = len(latest) - len(inserts) - len(reopens)
        return UpsertCounts(new=len(inserts), changed=len(reopens), unchanged=unchanged)

    @staticmethod
    def _check_reopen(item_id: int, state: ItemState) -> None:
        # A pending item just gets its new facts; anything else moves, so check the move.
        if state is not ItemState.PENDING and not is_legal_transition(state, ItemState.PENDING):
            raise IllegalTransition(
                [Rejection(item_id, state, ItemState.PENDING, "source changed")]
            )

    def claim_batch(
        self, owner: str, limit: int, lease_seconds: float, now: float
    ) -> list[WorkItem]:
        """See :meth:`CheckpointStore.claim_batch`."""
        expires = now + lease_seconds
        columns = f"id, state, attempts, {', '.join(SPEC_COLUMNS)}"
        with self._transaction() as conn:
            expired = conn.execute(
                f"SELECT {columns} FROM items WHERE run_id = ? AND lease_expires <= ? "
                f"AND state = '{_IN_FLIGHT}' ORDER BY id LIMIT ?",
                (self._run_id, now, limit),
            ).fetchall()
            phase = self._open_phase(conn)
            pending = (
                conn.execute(
                    f"SELECT {columns} FROM items WHERE run_id = ? AND state = '{_PENDING}' "
                    "AND phase = ? ORDER BY id LIMIT ?",
                    (self._run_id, phase, limit),
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
        return [
            WorkItem(
                id=int(row[0]),
                spec=spec_from_row(row[3:]),
                attempts=int(row[2]),
                recheck=row[1] == _IN_FLIGHT,
                lease_expires=expires,
            )
            for row in rows
        ]

    def _open_phase(self, conn: sqlite3.Connection) -> int | None:
        """The phase whose pending items may be claimed: the lowest pending one, unless an
        item of a lower phase is still in flight (then none). Two index probes."""
        lowest = "SELECT phase FROM items WHERE run_id = ? AND state = ? ORDER BY phase LIMIT 1"
        pending = conn.execute(lowest, (self._run_id, _PENDING)).fetchone()
        if pending is None:
            return None
        flying = conn.execute(lowest, (self._run_id, _IN_FLIGHT)).fetchone()
        if flying is not None and int(flying[0]) < int(pending[0]):
            return None
        return int(pending[0])

    def renew_leases(self, owner: str, lease_seconds: float, now: float) -> int:
        """See :meth:`CheckpointStore.renew_leases`."""
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE items SET lease_expires = ?, updated_at = ? "
                f"WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'",
                (now + lease_seconds, now, self._run_id, owner),
            ).rowcount

    def release(self, owner: str, now: float) -> int:
        """See :meth:`CheckpointStore.release`."""
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, "
                "lease_expires = NULL, updated_at = ? "
                f"WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'",
                (now, self._run_id, owner),
            ).rowcount

    def outstanding(self, owner: str) -> bool:
        """See :meth:`CheckpointStore.outstanding` (two indexed EXISTS probes, no scan)."""
        row = self.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM items WHERE run_id = ? AND state = '{_PENDING}') "
            f"OR EXISTS (SELECT 1 FROM items WHERE run_id = ? AND state = '{_IN_FLIGHT}' "
            "AND lease_owner IS NOT ?)",
            (self._run_id, self._run_id, owner),
        ).fetchone()
        return bool(row[0])

    def expire_leases(self, owner: str) -> int:
        """See :meth:`CheckpointStore.expire_leases`."""
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE items SET lease_expires = 0 "
                f"WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'",
                (self._run_id, owner),
            ).rowcount

    def reset(self, states: Sequence[ItemState], now: float) -> int:
        """See :meth:`CheckpointStore.reset` (the caller checked the transitions)."""
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, "
                "lease_expires = NULL, finished_at = NULL, updated_at = ? "
                f"WHERE run_id = ? AND state IN ({_marks(len(states))})",
                (now, self._run_id, *(s.value for s in states)),
            ).rowcount

    def commit_records(self, batch: Sequence[Pending]) -> list[Rejection]:
        """Write one batch of outcomes in one transaction; returns the refused ones."""
        current: dict[int, CurrentState] = {}
        rejected: list[Rejection] = []
        updates: list[tuple[Any, ...]] = []
        with self._transaction() as conn:
            ids = sorted({p.item_id for p in batch})
            for chunk in _chunks(ids):
                for row in conn.execute(
                    "SELECT id, state, attempts, lease_owner, lease_expires, finished_at "
                    f"FROM items WHERE run_id = ? AND id IN ({_marks(len(chunk))})",
                    (self._run_id, *chunk),
                ):
                    current[int(row[0])] = CurrentState(ItemState(row[1]), *row[2:])
            for pending in batch:
                decision = decide_record(
                    pending.item_id,
                    current.get(pending.item_id),
                    pending.outcome,
                    pending.owner,
                    pending.at,
                )
                if isinstance(decision, Rejection):
                    rejected.append(decision)
                elif decision is not None:
                    current[pending.item_id] = decision.after()
                    o = decision.outcome
                    target = o.target
                    updates.append(
                        (
                            decision.state.value,
                            decision.attempts,
                            o.error,
                            o.http_status,
                            o.bytes_transferred,
                            o.how,
                            o.duration,
                            (target.sha1 or None) if target else None,
                            (target.sha256 or None) if target else None,
                            (target.md5 or None) if target else None,
                            decision.finished_at,
                            decision.lease_owner,
                            decision.lease_expires,
                            pending.at,
                            pending.item_id,
                        )
                    )
            conn.executemany(
                "UPDATE items SET state = ?, attempts = ?, "
                "last_error = COALESCE(?, last_error), http_status = COALESCE(?, http_status), "
                "bytes_transferred = COALESCE(?, bytes_transferred), how = COALESCE(?, how), "
                "duration = COALESCE(?, duration), target_sha1 = COALESCE(?, target_sha1), "
                "target_sha256 = COALESCE(?, target_sha256), "
                "target_md5 = COALESCE(?, target_md5), finished_at = ?, lease_owner = ?, "
                "lease_expires = ?, updated_at = ? WHERE id = ?",
                updates,
            )
        return rejected

    def count_rows(self) -> list[tuple[str, str, int, int]]:
        """``(repo, state, items, bytes)`` per repository and state."""
        return [
            (str(r[0]), str(r[1]), int(r[2]), int(r[3]))
            for r in self.conn.execute(
                "SELECT repo, state, COUNT(*), COALESCE(SUM(size), 0) FROM items "
                "WHERE run_id = ? GROUP BY repo, state",
                (self._run_id,),
            )
        ]

    def items_page(
        self, after: int, states: Sequence[ItemState] | None, repo: str | None, limit: int
    ) -> list[Item]:
        """Up to ``limit`` items with id above ``after``, in id order, filtered."""
        sql = f"SELECT {_COLS} FROM items WHERE run_id = ? AND id > ?"
        args: list[Any] = [self._run_id, after]
        if states is not None:
            sql += f" AND state IN ({_marks(len(states))})" if states else " AND 0"
            args.extend(s.value for s in states)
        if repo is not None:
            sql += " AND repo = ?"
            args.append(repo)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [item_from_row(row) for row in self.conn.execute(sql, args)]

    def get_item(self, repo: str, path: str) -> Item | None:
        """See :meth:`CheckpointStore.get_item`."""
        row = self.conn.execute(
            f"SELECT {_COLS} FROM items WHERE run_id = ? AND repo = ? AND path = ?",
            (self._run_id, repo, path),
        ).fetchone()
        return None if row is None else item_from_row(row)

    # -- side tasks and workers --------------------------------------------------------------

    def record_side(
        self, kind: str, key: str, state: str, detail: Mapping[str, Any], now: float
    ) -> None:
        """See :meth:`CheckpointStore.record_side`."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO side (run_id, kind, key, state, detail, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, kind, key) DO UPDATE SET "
                "state = excluded.state, detail = excluded.detail, "
                "updated_at = excluded.updated_at",
                (self._run_id, kind, key, state, encode_json(detail), now),
            )

    def side_page(
        self, kind: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[SideRecord]:
        """Up to ``limit`` side records after ``(kind, key)`` ``after``."""
        sql = "SELECT kind, key, state, detail, updated_at FROM side WHERE run_id = ?"
        args: list[Any] = [self._run_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if after is not None:
            sql += " AND (kind, key) > (?, ?)"
            args.extend(after)
        sql += " ORDER BY kind, key LIMIT ?"
        args.append(limit)
        return [
            SideRecord(r[0], r[1], r[2], decode_json(r[3]), r[4])
            for r in self.conn.execute(sql, args)
        ]

    def get_side(self, kind: str, key: str) -> SideRecord | None:
        """See :meth:`CheckpointStore.get_side`."""
        row = self.conn.execute(
            "SELECT kind, key, state, detail, updated_at FROM side "
            "WHERE run_id = ? AND kind = ? AND key = ?",
            (self._run_id, kind, key),
        ).fetchone()
        return (
            None if row is None else SideRecord(row[0], row[1], row[2], decode_json(row[3]), row[4])
        )

    def heartbeat_worker(self, owner: str, stats: Mapping[str, Any], now: float) -> None:
        """See :meth:`CheckpointStore.heartbeat_worker`."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO workers (run_id, owner, stats, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, owner) DO UPDATE SET "
                "stats = excluded.stats, last_seen = excluded.last_seen",
                (self._run_id, owner, encode_json(stats), now, now),
            )

    def list_workers(self) -> list[WorkerInfo]:
        """See :meth:`CheckpointStore.list_workers`."""
        return [
            WorkerInfo(r[0], decode_json(r[1]), r[2], r[3])
            for r in self.conn.execute(
                "SELECT owner, stats, first_seen, last_seen FROM workers "
                "WHERE run_id = ? ORDER BY owner",
                (self._run_id,),
            )
        ]
