"""The statements both store backends run as they are, written once.

Written with ``?`` placeholders, and ``{bytewise}`` after a text column whose order is visible;
:func:`render` turns them into a backend's dialect: PostgreSQL numbers its placeholders (``$1``)
and compares text with ``COLLATE "C"``, so that side records and workers come back in the same
(byte) order as from SQLite, whose default collation already is bytewise, whatever the database's
locale. What really differs between the dialects — claims (``SKIP LOCKED``), bulk writes
(``unnest``), transactions and locks — stays in each backend's own module.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from transfer.checkpoint.schema import ITEM_COLUMNS, Dialect
from transfer.models import ItemState

__all__ = [
    "CLEAR_DISCOVERED",
    "COUNT_ROWS",
    "EXPIRE_LEASES",
    "GET_ITEM",
    "GET_META",
    "GET_SIDE",
    "HEARTBEAT_WORKER",
    "IS_DISCOVERED",
    "LEASE_OWNERS",
    "LIST_WORKERS",
    "MARK_DISCOVERED",
    "OUTSTANDING",
    "RECORD_SIDE",
    "RELEASE",
    "RENEW_LEASES",
    "REOPEN",
    "REOPEN_MOVED",
    "SET_META",
    "items_page",
    "marks",
    "render",
    "reset",
    "side_page",
]

_PENDING = ItemState.PENDING.value
_IN_FLIGHT = ItemState.IN_FLIGHT.value
_BYTEWISE = {"sqlite": "", "postgres": ' COLLATE "C"'}

GET_META = "SELECT value FROM meta WHERE run_id = ? AND key = ?"
SET_META = (
    "INSERT INTO meta (run_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)
MARK_DISCOVERED = (
    "INSERT INTO discovered (run_id, scope, discovered_at) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, scope) DO UPDATE SET discovered_at = excluded.discovered_at"
)
IS_DISCOVERED = "SELECT 1 FROM discovered WHERE run_id = ? AND scope = ?"
CLEAR_DISCOVERED = "DELETE FROM discovered WHERE run_id = ?"

REOPEN = (
    f"state = '{_PENDING}', attempts = 0, last_error = NULL, http_status = NULL, "
    "bytes_transferred = 0, how = NULL, started_at = NULL, finished_at = NULL, duration = NULL, "
    "lease_owner = NULL, lease_expires = NULL"
)
"""The ``SET`` clause that re-opens an item whose source changed at the same target path: pending,
its outcome cleared but for the target checksums — what this migration wrote there, which the
planner compares the target against to tell its own earlier copy from someone else's file."""
REOPEN_MOVED = f"{REOPEN}, target_sha1 = NULL, target_sha256 = NULL, target_md5 = NULL"
""":data:`REOPEN` for an item whose target path changed: nothing of ours is at the new path."""

RENEW_LEASES = (
    "UPDATE items SET lease_expires = ?, updated_at = ? "
    f"WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'"
)
RELEASE = (
    f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, lease_expires = NULL, "
    f"updated_at = ? WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'"
)
EXPIRE_LEASES = (
    "UPDATE items SET lease_expires = 0 "
    f"WHERE run_id = ? AND lease_owner = ? AND state = '{_IN_FLIGHT}'"
)
LEASE_OWNERS = (  # the in-flight items only (items_claim_phase), a few batches at most
    f"SELECT DISTINCT lease_owner FROM items WHERE run_id = ? AND state = '{_IN_FLIGHT}' "
    "AND lease_owner IS NOT NULL ORDER BY lease_owner"
)
OUTSTANDING = (  # two indexed EXISTS probes, no scan
    f"SELECT EXISTS (SELECT 1 FROM items WHERE run_id = ? AND state = '{_PENDING}') "
    f"OR EXISTS (SELECT 1 FROM items WHERE run_id = ? AND state = '{_IN_FLIGHT}' "
    "AND (lease_owner IS NULL OR lease_owner <> ?))"
)
COUNT_ROWS = (
    "SELECT repo, state, COUNT(*), COALESCE(SUM(size), 0) FROM items "
    "WHERE run_id = ? GROUP BY repo, state"
)
GET_ITEM = f"SELECT {', '.join(ITEM_COLUMNS)} FROM items WHERE run_id = ? AND repo = ? AND path = ?"

_SIDE_COLUMNS = "kind, key, state, detail, updated_at"
RECORD_SIDE = (
    f"INSERT INTO side (run_id, {_SIDE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, kind, key) DO UPDATE SET state = excluded.state, "
    "detail = excluded.detail, updated_at = excluded.updated_at"
)
GET_SIDE = f"SELECT {_SIDE_COLUMNS} FROM side WHERE run_id = ? AND kind = ? AND key = ?"
HEARTBEAT_WORKER = (
    "INSERT INTO workers (run_id, owner, stats, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, owner) DO UPDATE SET stats = excluded.stats, "
    "last_seen = excluded.last_seen"
)
LIST_WORKERS = (
    "SELECT owner, stats, first_seen, last_seen FROM workers "
    "WHERE run_id = ? ORDER BY owner{bytewise}"
)


def marks(n: int) -> str:
    """``n`` placeholders, comma-separated: the inside of an ``IN (...)`` list."""
    return ", ".join("?" * n)


def reset(run_id: int, states: Sequence[ItemState], now: float) -> tuple[str, list[Any]]:
    """Move the items in (non-empty) ``states`` back to pending."""
    sql = (
        f"UPDATE items SET state = '{_PENDING}', lease_owner = NULL, lease_expires = NULL, "
        f"finished_at = NULL, updated_at = ? WHERE run_id = ? AND state IN ({marks(len(states))})"
    )
    return sql, [now, run_id, *(s.value for s in states)]


def items_page(
    run_id: int, after: int, states: Sequence[ItemState] | None, repo: str | None, limit: int
) -> tuple[str, list[Any]]:
    """Up to ``limit`` items with id above ``after``, in id order, filtered (``states``
    non-empty when given).

    ``+run_id`` and ``state || ''`` keep the planner on the primary key: SQLite, with no
    statistics, took the claim index and sorted every matching row of the run for each page
    (97 ms a page at a million items, against 0.4 ms), so walking the items was quadratic.
    Walked by id, all the pages together read the run once."""
    sql = f"SELECT {', '.join(ITEM_COLUMNS)} FROM items WHERE +run_id = ? AND id > ?"
    args: list[Any] = [run_id, after]
    if states is not None:
        sql += f" AND state || '' IN ({marks(len(states))})"
        args.extend(s.value for s in states)
    if repo is not None:
        sql += " AND repo = ?"
        args.append(repo)
    return sql + " ORDER BY id LIMIT ?", [*args, limit]


def side_page(
    run_id: int, kind: str | None, after: tuple[str, str] | None, limit: int
) -> tuple[str, list[Any]]:
    """Up to ``limit`` side records after ``(kind, key)`` ``after``, in byte order."""
    sql = f"SELECT {_SIDE_COLUMNS} FROM side WHERE run_id = ?"
    args: list[Any] = [run_id]
    if kind is not None:
        sql += " AND kind = ?"
        args.append(kind)
    if after is not None:
        sql += " AND (kind{bytewise} > ? OR (kind = ? AND key{bytewise} > ?))"
        args.extend((after[0], after[0], after[1]))
    return sql + " ORDER BY kind{bytewise}, key{bytewise} LIMIT ?", [*args, limit]


@functools.lru_cache(maxsize=256)
def render(sql: str, dialect: Dialect) -> str:
    """``sql`` as written here, in ``dialect``."""
    text = sql.replace("{bytewise}", _BYTEWISE[dialect])
    if dialect == "postgres":
        first, *rest = text.split("?")
        text = first + "".join(f"${n}{part}" for n, part in enumerate(rest, 1))
    return text
