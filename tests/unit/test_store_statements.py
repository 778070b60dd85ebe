"""The pieces both store backends share: statements rendered per dialect, and the pure batch
decisions (several outcomes for one item in one batch merge as if applied one by one)."""

from __future__ import annotations

from transfer.checkpoint import statements
from transfer.checkpoint.base import Outcome
from transfer.checkpoint.batches import RECORD_COLUMNS, Pending, decide_outcomes
from transfer.models import ItemState

S = ItemState


def test_postgres_numbers_placeholders_and_orders_text_bytewise() -> None:
    statement, args = statements.side_page(7, "repo", ("repo", "a"), 10)
    assert statements.render(statement, "postgres") == (
        "SELECT kind, key, state, detail, updated_at FROM side WHERE run_id = $1 AND kind = $2"
        ' AND (kind COLLATE "C" > $3 OR (kind = $4 AND key COLLATE "C" > $5))'
        ' ORDER BY kind COLLATE "C", key COLLATE "C" LIMIT $6'
    )
    assert args == [7, "repo", "repo", "repo", "a", 10]


def test_sqlite_keeps_its_placeholders_and_default_collation() -> None:
    rendered = statements.render(statements.LIST_WORKERS, "sqlite")
    assert rendered.endswith("WHERE run_id = ? ORDER BY owner")


def test_outcomes_for_one_item_merge_into_one_row() -> None:
    current = [(1, "in_flight", 2, "me", 100.0, None), (2, "in_flight", 0, "other", 100.0, None)]
    batch = [
        Pending(1, Outcome(S.IN_FLIGHT, add_attempts=1, error="reset by peer"), "me", 10.0),
        Pending(1, Outcome(S.DONE, how="streamed", bytes_transferred=5), "me", 11.0),
        Pending(2, Outcome(S.DONE), "me", 12.0),  # not my lease any more: dropped
        Pending(3, Outcome(S.DONE), None, 13.0),  # no such item: refused
    ]
    writes = decide_outcomes(batch, current)
    assert [r.item_id for r in writes.rejected] == [3]
    assert list(writes.rows) == [1]
    row = dict(zip((name for name, _ in RECORD_COLUMNS), writes.rows[1], strict=True))
    assert row["state"] == "done"
    assert row["attempts"] == 3
    assert row["last_error"] == "reset by peer"  # the later outcome kept it
    assert (row["how"], row["bytes_transferred"]) == ("streamed", 5)
    assert (row["lease_owner"], row["lease_expires"], row["finished_at"]) == (None, None, 11.0)
    assert row["updated_at"] == 11.0
