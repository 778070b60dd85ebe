"""The SQL half of the PostgreSQL store: statements run on one asyncpg connection of one run.

Every function takes a connection (from the store's pool) and the run's id and owns one
transaction. Many worker processes run these at once against the same tables, so:

* a claim locks the rows it takes with ``FOR UPDATE SKIP LOCKED``: concurrent claimers pass over
  each other's rows instead of waiting for them, and no row is ever handed to two claimers;
* a batch of outcomes locks its rows (``FOR UPDATE``, in id order) before deciding on them, so
  the "does this owner still hold the lease?" check cannot race a claim taking the lease over;
* bulk writes go as one statement over ``unnest``\\ ed arrays, one round trip per batch.

Text is compared and ordered with ``COLLATE "C"`` where order is visible, so PostgreSQL lists
side records and workers in the same (byte) order as SQLite whatever the database's locale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

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

__all__ = [
    "Pending",
    "advisory_key",
    "claim_batch",
    "clear_discovered",
    "commit_records",
    "count_rows",
    "ensure_schema",
    "expire_leases",
    "find_run",
    "get_item",
    "get_meta",
    "get_side",
    "heartbeat_worker",
    "is_discovered",
    "items_page",
    "join_run",
    "list_workers",
    "mark_discovered",
    "record_side",
    "release",
    "renew_leases",
    "reset",
    "set_meta",
    "side_page",
    "upsert_items",
]

Conn = Any  # asyncpg.Connection: asyncpg ships no type information

_PENDING = ItemState.PENDING.value
_IN_FLIGHT = ItemState.IN_FLIGHT.value
_COLS = ", ".join(ITEM_COLUMNS)
_SPEC = ", ".join(SPEC_COLUMNS)
_SPEC_TYPES = (
    "text[]",  # repo
    "text[]",  # package
    "text[]",  # version
    "text[]",  # path
    "bigint[]",  # size
    "text[]",  # sha1
    "text[]",  # sha256
    "boolean[]",  # published
    "text[]",  # target_repo
    "text[]",  # target_path
    "text[]",  # properties
    "text[]",  # extra
    "bigint[]",  # phase
)
_SCHEMA_LOCK = "transfer:schema"


class Pending(NamedTuple):
    """One queued outcome: for which item, what, whose lease, and when it was recorded."""

    item_id: int
    outcome: Outcome
    owner: str | None
    at: float


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` naming ``parts``."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _columns(values: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows to per-column lists, the shape ``unnest($1::t[], $2::t[], ...)`` takes."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in values:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _unnest(types: Sequence[str], first: int = 1) -> str:
    return ", ".join(f"${first + i}::{t}" for i, t in enumerate(types))


# -- schema and runs ---------------------------------------------------------------------------


async def ensure_schema(conn: Conn, *, schema: str | None, create: bool, where: str) -> None:
    """Check the tables (creating them, and ``schema``, when absent and ``create``)."""
    if not create:
        await _check_version(conn, where, create=False)
        return
    async with conn.transaction():
        # Workers starting together would race CREATE TABLE IF NOT EXISTS (it is not atomic
        # in PostgreSQL); this lock makes them take turns for the few milliseconds it takes.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(_SCHEMA_LOCK))
        if schema is not None:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        await _check_version(conn, where, create=True)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _check_version(conn: Conn, where: str, *, create: bool) -> None:
    has_version = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not has_version:
        if await conn.fetchval("SELECT to_regclass('items') IS NOT NULL") or not create:
            raise StoreError(f"not a transfer checkpoint store: {where}")
        for statement in ddl("postgres"):
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION)
        return
    version = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {where} has schema version {version}, newer than this transfer "
            f"understands ({SCHEMA_VERSION}); upgrade transfer on every worker"
        )
    if version < SCHEMA_VERSION:
        try:
            statements = migration("postgres", version)
        except KeyError:
            raise StoreError(
                f"store {where} has schema version {version}, which this transfer cannot "
                f"migrate to {SCHEMA_VERSION}; use a new database or schema"
            ) from None
        if not create:
            raise StoreError(
                f"store {where} has schema version {version}: run transfer migrate once "
                f"to bring it to {SCHEMA_VERSION}"
            )
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("UPDATE schema_version SET version = $1", SCHEMA_VERSION)


async def join_run(conn: Conn, run: str, now: float) -> int:
    """The id of ``run``, created when absent; marks it opened at ``now``."""
    return int(
        await conn.fetchval(
            "INSERT INTO runs (name, created_at, opened_at) VALUES ($1, $2, $2) "
            "ON CONFLICT (name) DO UPDATE SET opened_at = EXCLUDED.opened_at RETURNING id",
            run,
            now,
        )
    )


async def find_run(conn: Conn, run: str, where: str) -> int:
    """The id of an existing ``run``."""
    found = await conn.fetchval("SELECT id FROM runs WHERE name = $1", run)
    if found is None:
        raise StoreError(f"no run named {run!r} in store {where}")
    return int(found)


# -- meta and discovery ------------------------------------------------------------------------


async def get_meta(conn: Conn, run_id: int, key: str) -> str | None:
    """See :meth:`CheckpointStore.get_meta`."""
    value = await conn.fetchval(
        "SELECT value FROM meta WHERE run_id = $1 AND key = $2", run_id, key
    )
    return None if value is None else str(value)


async def set_meta(conn: Conn, run_id: int, key: str, value: str) -> None:
    """See :meth:`CheckpointStore.set_meta`."""
    await conn.execute(
        "INSERT INTO meta (run_id, key, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
        run_id,
        key,
        value,
    )


async def mark_discovered(conn: Conn, run_id: int, scope: str, now: float) -> None:
    """See :meth:`CheckpointStore.mark_discovered`."""
    await conn.execute(
        "INSERT INTO discovered (run_id, scope, discovered_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (run_id, scope) DO UPDATE SET discovered_at = EXCLUDED.discovered_at",
        run_id,
        scope,
        now,
    )


async def is_discovered(conn: Conn, run_id: int, scope: str) -> bool:
    """See :meth:`CheckpointStore.is_discovered`."""
    found = await conn.fetchval(
        "SELECT 1 FROM discovered WHERE run_id = $1 AND scope = $2", run_id, scope
    )
    return found is not None


async def clear_discovered(conn: Conn, run_id: int) -> int:
    """See :meth:`CheckpointStore.clear_discovered`."""
    return _rowcount(await conn.execute("DELETE FROM discovered WHERE run_id = $1", run_id))


# -- items -------------------------------------------------------------------------------------


async def upsert_items(
    conn: Conn, run_id: int, items: Sequence[ItemSpec], now: float
) -> UpsertCounts:
    """See :meth:`CheckpointStore.upsert_items`."""
    latest = {(spec.repo, spec.path): spec for spec in items}
    specs = list(latest.values())
    async with conn.transaction():
        rows = await conn.fetch(
            f"SELECT i.id, i.state, {', '.join('i.' + c for c in SPEC_COLUMNS)} FROM items i "
            "JOIN unnest($2::text[], $3::text[]) AS k (repo, path) "
            "ON i.repo = k.repo AND i.path = k.path "
            "WHERE i.run_id = $1 ORDER BY i.id FOR UPDATE OF i",
            run_id,
            [s.repo for s in specs],
            [s.path for s in specs],
        )
        stored = {(row[2], row[5]): tuple(row) for row in rows}
        inserts: list[tuple[Any, ...]] = []
        reopens: list[tuple[Any, ...]] = []
        refreshes: list[tuple[Any, ...]] = []
        for spec in specs:
            values = spec_to_row(spec)
            row = stored.get((spec.repo, spec.path))
            if row is None:
                inserts.append(values)
            elif tuple(row[2:]) != values:
                if content_changed(spec_from_row(row[2:]), spec):
                    state = ItemState(row[1])
                    if state is not ItemState.PENDING and not is_legal_transition(
                        state, ItemState.PENDING
                    ):
                        raise IllegalTransition(
                            [Rejection(int(row[0]), state, ItemState.PENDING, "source changed")]
                        )
                    reopens.append((row[0], *values))
                else:
                    refreshes.append((row[0], *values))
        width = len(SPEC_COLUMNS)
        if inserts:
            # DO NOTHING: a crashed discoverer's items already there are left to the next pass
            await conn.execute(
                f"INSERT INTO items (run_id, {_SPEC}, state, updated_at) "
                f"SELECT $1::bigint, u.*, '{_PENDING}', $2::float8 "
                f"FROM unnest({_unnest(_SPEC_TYPES, 3)}) AS u "
                "ON CONFLICT (run_id, repo, path) DO NOTHING",
                run_id,
                now,
                *_columns(inserts, width),
            )
        spec_set = ", ".join(f"{c} = u.{c}" for c in SPEC_COLUMNS)
        from_unnest = f"FROM unnest({_unnest(('bigint[]', *_SPEC_TYPES), 2)}) AS u (id, {_SPEC})"
        if reopens:
            await conn.execute(
                f"UPDATE items SET {spec_set}, state = '{_PENDING}', attempts = 0, "
                "last_error = NULL, http_status = NULL, bytes_transferred = 0, how = NULL, "
                "started_at = NULL, finished_at = NULL, duration = NULL, target_sha1 = NULL, "
                "target_sha256 = NULL, target_md5 = NULL, lease_owner = NULL, "
                f"lease_expires = NULL, updated_at = $1 {from_unnest} WHERE items.id = u.id",
                now,
                *_columns(reopens, width + 1),
            )
        if refreshes:
            await conn.execute(
                f"UPDATE items SET {spec_set}, updated_at = $1 {from_unnest} WHERE items.id = u.id",
                now,
                *_columns(refreshes, width + 1),
            )
    unchanged = len(specs) - len(inserts) - len(reopens)
    return UpsertCounts(new=len(inserts), changed=len(reopens), unchanged=unchanged)


_CLAIM = f"""
WITH expired AS (
    SELECT id FROM items
    WHERE run_id = $1 AND lease_expires <= $2 AND state = '{_IN_FLIGHT}'
    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
), lowest AS (
    SELECT phase FROM items WHERE run_id = $1 AND state = '{_PENDING}' ORDER BY phase LIMIT 1
), gate AS (
    -- pending items of the lowest pending phase, unless a lower phase is still in flight
    SELECT lowest.phase FROM lowest WHERE NOT EXISTS (
        SELECT 1 FROM items WHERE run_id = $1 AND state = '{_IN_FLIGHT}' AND phase < lowest.phase
    )
), fresh AS (
    SELECT id FROM items
    WHERE run_id = $1 AND state = '{_PENDING}' AND phase = (SELECT phase FROM gate)
    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id, true AS recheck FROM expired
    UNION ALL
    SELECT id, false AS recheck FROM fresh
    ORDER BY id LIMIT $3
)
UPDATE items AS i
SET state = '{_IN_FLIGHT}', lease_owner = $4, lease_expires = $5, started_at = $2, updated_at = $2
FROM picked WHERE i.id = picked.id
RETURNING i.id, picked.recheck, i.attempts, {", ".join("i." + c for c in SPEC_COLUMNS)}
"""


async def claim_batch(
    conn: Conn, run_id: int, owner: str, limit: int, lease_seconds: float, now: float
) -> list[WorkItem]:
    """See :meth:`CheckpointStore.claim_batch`."""
    expires = now + lease_seconds
    async with conn.transaction():
        rows = await conn.fetch(_CLAIM, run_id, now, limit, owner, expires)
    return sorted(
        (
            WorkItem(
                id=int(row[0]),
                spec=spec_from_row(tuple(row)[3:]),
                attempts=int(row[2]),
                recheck=bool(row[1]),
                lease_expires=expires,
            )
            for row in rows
        ),
        key=lambda work: work.id,
    )


async def renew_leases(
    conn: Conn, run_id: int, owner: str, lease_seconds: float, now: float
) -> int:
    """See :meth:`CheckpointStore.renew_leases`."""
    return _rowcount(
        await conn.execute(
            "UPDATE items SET lease_expires = $1, updated_at = $2 "
            f"WHERE run_id = $3 AND lease_owner = $4 AND state = '{_IN_FLIGHT}'",
            now + lease_seconds,
            now,
            run_id,
            owner,
        )
    )


async def release(conn: Conn, run_id: int, owner: str, now: float) -> int:
    """See :meth:`CheckpointStore.release`."""
    return _rowcount(
        await conn.execute(
            f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, lease_expires = NULL, "
            f"updated_at = $1 WHERE run_id = $2 AND lease_owner = $3 AND state = '{_IN_FLIGHT}'",
            now,
            run_id,
            owner,
        )
    )


async def outstanding(conn: Conn, run_id: int, owner: str) -> bool:
    """See :meth:`CheckpointStore.outstanding` (two indexed EXISTS probes, no scan)."""
    value = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM items WHERE run_id = $1 AND state = '{_PENDING}') "
        f"OR EXISTS (SELECT 1 FROM items WHERE run_id = $1 AND state = '{_IN_FLIGHT}' "
        "AND lease_owner IS DISTINCT FROM $2)",
        run_id,
        owner,
    )
    return bool(value)


async def expire_leases(conn: Conn, run_id: int, owner: str) -> int:
    """See :meth:`CheckpointStore.expire_leases`."""
    return _rowcount(
        await conn.execute(
            "UPDATE items SET lease_expires = 0 "
            f"WHERE run_id = $1 AND lease_owner = $2 AND state = '{_IN_FLIGHT}'",
            run_id,
            owner,
        )
    )


async def reset(conn: Conn, run_id: int, states: Sequence[ItemState], now: float) -> int:
    """See :meth:`CheckpointStore.reset` (the caller checked the transitions)."""
    return _rowcount(
        await conn.execute(
            f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, lease_expires = NULL, "
            "finished_at = NULL, updated_at = $1 WHERE run_id = $2 AND state = ANY($3::text[])",
            now,
            run_id,
            [s.value for s in states],
        )
    )


def _rowcount(status: str) -> int:
    """Rows an ``UPDATE``/``DELETE`` touched, from its command tag (``"UPDATE 3"``)."""
    return int(status.rsplit(" ", 1)[-1])


# Columns a recorded outcome writes; the ones marked True keep their old value on NULL.
_RECORD_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("state", "text[]", False),
    ("attempts", "bigint[]", False),
    ("last_error", "text[]", True),
    ("http_status", "bigint[]", True),
    ("bytes_transferred", "bigint[]", True),
    ("how", "text[]", True),
    ("duration", "float8[]", True),
    ("target_sha1", "text[]", True),
    ("target_sha256", "text[]", True),
    ("target_md5", "text[]", True),
    ("finished_at", "float8[]", False),
    ("lease_owner", "text[]", False),
    ("lease_expires", "float8[]", False),
    ("updated_at", "float8[]", False),
)
_RECORD = (
    "UPDATE items AS i SET "
    + ", ".join(
        f"{name} = COALESCE(u.{name}, i.{name})" if keep else f"{name} = u.{name}"
        for name, _, keep in _RECORD_COLUMNS
    )
    + f" FROM unnest({_unnest(('bigint[]', *(t for _, t, _ in _RECORD_COLUMNS)))}) "
    + f"AS u (id, {', '.join(name for name, _, _ in _RECORD_COLUMNS)}) WHERE i.id = u.id"
)


async def commit_records(conn: Conn, run_id: int, batch: Sequence[Pending]) -> list[Rejection]:
    """Write one batch of outcomes in one transaction; returns the refused ones."""
    current: dict[int, CurrentState] = {}
    rejected: list[Rejection] = []
    # One row per item: later outcomes for the same item in this batch overwrite, except
    # where an outcome says "keep" (None), as applying them one by one would.
    merged: dict[int, list[Any]] = {}
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT id, state, attempts, lease_owner, lease_expires, finished_at FROM items "
            "WHERE run_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
            run_id,
            sorted({p.item_id for p in batch}),
        )
        for row in rows:
            current[int(row[0])] = CurrentState(ItemState(row[1]), *tuple(row)[2:])
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
                continue
            if decision is None:
                continue
            current[pending.item_id] = decision.after()
            o, target = decision.outcome, decision.outcome.target
            values = [
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
            ]
            before = merged.get(pending.item_id)
            if before is not None:
                values = [
                    before[i] if keep and values[i] is None else values[i]
                    for i, (_, _, keep) in enumerate(_RECORD_COLUMNS)
                ]
            merged[pending.item_id] = values
        if merged:
            updates = [(item_id, *values) for item_id, values in merged.items()]
            await conn.execute(_RECORD, *_columns(updates, len(_RECORD_COLUMNS) + 1))
    return rejected


async def count_rows(conn: Conn, run_id: int) -> list[tuple[str, str, int, int]]:
    """``(repo, state, items, bytes)`` per repository and state."""
    rows = await conn.fetch(
        "SELECT repo, state, COUNT(*), COALESCE(SUM(size), 0) FROM items "
        "WHERE run_id = $1 GROUP BY repo, state",
        run_id,
    )
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


async def items_page(
    conn: Conn,
    run_id: int,
    after: int,
    states: Sequence[ItemState] | None,
    repo: str | None,
    limit: int,
) -> list[Item]:
    """Up to ``limit`` items with id above ``after``, in id order, filtered."""
    if states is not None and not states:
        return []
    sql = f"SELECT {_COLS} FROM items WHERE run_id = $1 AND id > $2"
    args: list[Any] = [run_id, after]
    if states is not None:
        args.append([s.value for s in states])
        sql += f" AND state = ANY(${len(args)}::text[])"
    if repo is not None:
        args.append(repo)
        sql += f" AND repo = ${len(args)}"
    args.append(limit)
    sql += f" ORDER BY id LIMIT ${len(args)}"
    return [item_from_row(tuple(row)) for row in await conn.fetch(sql, *args)]


async def get_item(conn: Conn, run_id: int, repo: str, path: str) -> Item | None:
    """See :meth:`CheckpointStore.get_item`."""
    row = await conn.fetchrow(
        f"SELECT {_COLS} FROM items WHERE run_id = $1 AND repo = $2 AND path = $3",
        run_id,
        repo,
        path,
    )
    return None if row is None else item_from_row(tuple(row))


# -- side tasks and workers --------------------------------------------------------------------


def _side(row: Any) -> SideRecord:
    return SideRecord(row[0], row[1], row[2], decode_json(row[3]), float(row[4]))


async def side_page(
    conn: Conn, run_id: int, kind: str | None, after: tuple[str, str] | None, limit: int
) -> list[SideRecord]:
    """Up to ``limit`` side records after ``(kind, key)`` ``after``, in byte order."""
    sql = "SELECT kind, key, state, detail, updated_at FROM side WHERE run_id = $1"
    args: list[Any] = [run_id]
    if kind is not None:
        args.append(kind)
        sql += f" AND kind = ${len(args)}"
    if after is not None:
        args.extend(after)
        k, key = len(args) - 1, len(args)
        sql += f' AND (kind COLLATE "C" > ${k} OR (kind = ${k} AND key COLLATE "C" > ${key}))'
    args.append(limit)
    sql += f' ORDER BY kind COLLATE "C", key COLLATE "C" LIMIT ${len(args)}'
    return [_side(row) for row in await conn.fetch(sql, *args)]


async def record_side(
    conn: Conn, run_id: int, kind: str, key: str, state: str, detail: Mapping[str, Any], now: float
) -> None:
    """See :meth:`CheckpointStore.record_side`."""
    await conn.execute(
        "INSERT INTO side (run_id, kind, key, state, detail, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, kind, key) DO UPDATE SET "
        "state = EXCLUDED.state, detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at",
        run_id,
        kind,
        key,
        state,
        encode_json(detail),
        now,
    )


async def get_side(conn: Conn, run_id: int, kind: str, key: str) -> SideRecord | None:
    """See :meth:`CheckpointStore.get_side`."""
    row = await conn.fetchrow(
        "SELECT kind, key, state, detail, updated_at FROM side "
        "WHERE run_id = $1 AND kind = $2 AND key = $3",
        run_id,
        kind,
        key,
    )
    return None if row is None else _side(row)


async def heartbeat_worker(
    conn: Conn, run_id: int, owner: str, stats: Mapping[str, Any], now: float
) -> None:
    """See :meth:`CheckpointStore.heartbeat_worker`."""
    await conn.execute(
        "INSERT INTO workers (run_id, owner, stats, first_seen, last_seen) "
        "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (run_id, owner) DO UPDATE SET "
        "stats = EXCLUDED.stats, last_seen = EXCLUDED.last_seen",
        run_id,
        owner,
        encode_json(stats),
        now,
    )


async def list_workers(conn: Conn, run_id: int) -> list[WorkerInfo]:
    """See :meth:`CheckpointStore.list_workers`."""
    rows = await conn.fetch(
        "SELECT owner, stats, first_seen, last_seen FROM workers "
        'WHERE run_id = $1 ORDER BY owner COLLATE "C"',
        run_id,
    )
    return [WorkerInfo(r[0], decode_json(r[1]), float(r[2]), float(r[3])) for r in rows]
