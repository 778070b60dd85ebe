"""The SQL the PostgreSQL store runs its own way, on one asyncpg connection of one run.

The plain statements come from :mod:`transfer.checkpoint.statements`. Every function here takes a
connection (from the store's pool) and owns one transaction. Many worker processes run these at
once against the same tables, so:

* a claim locks the rows it takes with ``FOR UPDATE SKIP LOCKED``: concurrent claimers pass over
  each other's rows instead of waiting for them, and no row is ever handed to two claimers;
* a batch of outcomes locks its rows (``FOR UPDATE``, in id order) before deciding on them, so
  the "does this owner still hold the lease?" check cannot race a claim taking the lease over;
* bulk writes go as one statement over ``unnest``\\ ed arrays, one round trip per batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from transfer.checkpoint import batches
from transfer.checkpoint.base import ItemSpec, Share, UpsertCounts, WorkItem
from transfer.checkpoint.schema import CLAIM_COLUMNS, SPEC_COLUMNS, schema_statements, work_from_row
from transfer.checkpoint.statements import REOPEN, REOPEN_MOVED
from transfer.errors import StoreError
from transfer.models import ItemState, Rejection

__all__ = [
    "advisory_key",
    "claim_batch",
    "commit_records",
    "ensure_schema",
    "find_run",
    "join_run",
    "rowcount",
    "upsert_items",
]

Conn = Any  # asyncpg.Connection: asyncpg ships no type information

_PENDING = ItemState.PENDING.value
_IN_FLIGHT = ItemState.IN_FLIGHT.value
_SPEC = ", ".join(SPEC_COLUMNS)
_ARRAY_TYPES = {
    "id": "bigint[]",
    "size": "bigint[]",
    "published": "boolean[]",
    "attempts": "bigint[]",
    "http_status": "bigint[]",
    "bytes_transferred": "bigint[]",
    "phase": "bigint[]",
    "duration": "float8[]",
    "finished_at": "float8[]",
    "lease_expires": "float8[]",
    "updated_at": "float8[]",
}
"""Array types for ``unnest`` of the columns bulk writes set; any other column is ``text[]``."""
_SCHEMA_LOCK = "transfer:schema"


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


def _types(columns: Sequence[str]) -> list[str]:
    return [_ARRAY_TYPES.get(column, "text[]") for column in columns]


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
    """Bring the tables to the current version (see :func:`schema_statements`)."""
    version: int | None = None
    other_tables = True
    if await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
        version = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
    else:
        other_tables = bool(await conn.fetchval("SELECT to_regclass('items') IS NOT NULL"))
    statements = schema_statements(
        "postgres",
        where,
        version,
        other_tables=other_tables,
        writable=create,
        newer="upgrade transfer on every worker",
        older="use a new database or schema",
    )
    for statement in statements:
        await conn.execute(statement)


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


def rowcount(status: str) -> int:
    """Rows an ``UPDATE``/``DELETE`` touched, from its command tag (``"UPDATE 3"``)."""
    return int(status.rsplit(" ", 1)[-1])


# -- items -------------------------------------------------------------------------------------


async def upsert_items(
    conn: Conn, run_id: int, items: Sequence[ItemSpec], now: float
) -> UpsertCounts:
    """See :meth:`CheckpointStore.upsert_items`."""
    specs = batches.latest_specs(items)
    async with conn.transaction():
        rows = await conn.fetch(
            f"SELECT {', '.join('i.' + c for c in batches.STORED_COLUMNS)} FROM items i "
            "JOIN unnest($2::text[], $3::text[]) AS k (repo, path) "
            "ON i.repo = k.repo AND i.path = k.path "
            "WHERE i.run_id = $1 ORDER BY i.id FOR UPDATE OF i",
            run_id,
            [s.repo for s in specs],
            [s.path for s in specs],
        )
        plan = batches.plan_upsert(specs, {(row[2], row[5]): tuple(row) for row in rows})
        width = len(SPEC_COLUMNS)
        if plan.inserts:
            # DO NOTHING: a crashed discoverer's items already there are left to the next pass
            await conn.execute(
                f"INSERT INTO items (run_id, {_SPEC}, state, updated_at) "
                f"SELECT $1::bigint, u.*, '{_PENDING}', $2::float8 "
                f"FROM unnest({_unnest(_types(SPEC_COLUMNS), 3)}) AS u "
                "ON CONFLICT (run_id, repo, path) DO NOTHING",
                run_id,
                now,
                *_columns(plan.inserts, width),
            )
        spec_set = ", ".join(f"{c} = u.{c}" for c in SPEC_COLUMNS)
        with_id = ("id", *SPEC_COLUMNS)
        from_unnest = f"FROM unnest({_unnest(_types(with_id), 2)}) AS u ({', '.join(with_id)})"
        for reopen, reopened in ((REOPEN, plan.reopens), (REOPEN_MOVED, plan.moves)):
            if reopened:
                await conn.execute(
                    f"UPDATE items SET {spec_set}, {reopen}, updated_at = $1 {from_unnest} "
                    "WHERE items.id = u.id",
                    now,
                    *_columns([(i, *values) for i, values in reopened], width + 1),
                )
        if plan.refreshes:
            await conn.execute(
                f"UPDATE items SET {spec_set}, updated_at = $1 {from_unnest} WHERE items.id = u.id",
                now,
                *_columns([(i, *values) for i, values in plan.refreshes], width + 1),
            )
    return plan.counts


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
        AND id % $6 = $7
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
RETURNING i.id, picked.recheck, {", ".join("i." + c for c in CLAIM_COLUMNS)}
"""


async def claim_batch(
    conn: Conn, run_id: int, owner: str, limit: int, lease_seconds: float, now: float, share: Share
) -> list[WorkItem]:
    """See :meth:`CheckpointStore.claim_batch`."""
    expires = now + lease_seconds
    async with conn.transaction():
        rows = await conn.fetch(_CLAIM, run_id, now, limit, owner, expires, share.of, share.index)
    return sorted((work_from_row(tuple(row), expires) for row in rows), key=lambda w: w.id)


_RECORD_NAMES = [name for name, _ in batches.RECORD_COLUMNS]
_RECORD = (
    "UPDATE items AS i SET "
    + ", ".join(
        f"{name} = COALESCE(u.{name}, i.{name})" if keep else f"{name} = u.{name}"
        for name, keep in batches.RECORD_COLUMNS
    )
    + f" FROM unnest({_unnest(_types(['id', *_RECORD_NAMES]))}) "
    + f"AS u (id, {', '.join(_RECORD_NAMES)}) WHERE i.id = u.id"
)


async def commit_records(
    conn: Conn, run_id: int, batch: Sequence[batches.Pending]
) -> list[Rejection]:
    """Write one batch of outcomes in one transaction; returns the refused ones."""
    async with conn.transaction():
        rows = await conn.fetch(
            f"SELECT {', '.join(batches.CURRENT_COLUMNS)} FROM items "
            "WHERE run_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
            run_id,
            sorted({p.item_id for p in batch}),
        )
        writes = batches.decide_outcomes(batch, (tuple(row) for row in rows))
        if writes.rows:
            updates = [(item_id, *values) for item_id, values in writes.rows.items()]
            await conn.execute(_RECORD, *_columns(updates, len(_RECORD_NAMES) + 1))
    return writes.rejected
