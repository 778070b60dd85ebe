"""What a batch of discovered items or recorded outcomes writes, decided once for both backends.

A backend reads the rows a batch touches, hands them here, and writes what comes back in its own
way (SQLite: ``executemany`` in a ``BEGIN IMMEDIATE`` transaction; PostgreSQL: one statement over
``unnest``\\ ed arrays). The decisions themselves — new, re-opened or refreshed; accepted, refused
or stale — are pure, so the two backends cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from transfer.checkpoint.base import (
    CurrentState,
    ItemSpec,
    Outcome,
    UpsertCounts,
    content_changed,
    decide_record,
)
from transfer.checkpoint.schema import SPEC_COLUMNS, spec_from_row, spec_to_row
from transfer.errors import IllegalTransition
from transfer.models import ItemState, Rejection, is_legal_transition

__all__ = [
    "CURRENT_COLUMNS",
    "RECORD_COLUMNS",
    "STORED_COLUMNS",
    "OutcomeWrites",
    "Pending",
    "UpsertPlan",
    "decide_outcomes",
    "latest_specs",
    "plan_upsert",
]

STORED_COLUMNS = ("id", "state", *SPEC_COLUMNS)
"""The columns :func:`plan_upsert` compares a re-discovered item against, in this order."""

CURRENT_COLUMNS = ("id", "state", "attempts", "lease_owner", "lease_expires", "finished_at")
"""The columns :func:`decide_outcomes` decides on, in this order."""

RECORD_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("state", False),
    ("attempts", False),
    ("last_error", True),
    ("http_status", True),
    ("bytes_transferred", True),
    ("how", True),
    ("duration", True),
    ("target_sha1", True),
    ("target_sha256", True),
    ("target_md5", True),
    ("finished_at", False),
    ("lease_owner", False),
    ("lease_expires", False),
    ("updated_at", False),
)
"""The columns a recorded outcome writes, in order; those marked True keep their value on NULL."""


class Pending(NamedTuple):
    """One queued outcome: for which item, what, whose lease, and when it was recorded."""

    item_id: int
    outcome: Outcome
    owner: str | None
    at: float


# -- discovered items ----------------------------------------------------------------------------


def latest_specs(items: Iterable[ItemSpec]) -> list[ItemSpec]:
    """One spec per ``(repo, path)``, the last given winning, in first-seen order."""
    return list({(spec.repo, spec.path): spec for spec in items}.values())


@dataclass(slots=True)
class UpsertPlan:
    """The writes an upsert needs: spec rows (:data:`SPEC_COLUMNS` order) by what they do."""

    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    reopens: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    """(id, spec row) of items whose content changed: back to pending, outcome cleared but for
    the target checksums of the copy written at the (unchanged) target path."""
    moves: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    """(id, spec row) of items whose target path changed: back to pending, outcome cleared."""
    refreshes: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    """(id, spec row) of items only described anew: their state stays."""
    total: int = 0

    @property
    def counts(self) -> UpsertCounts:
        """What the upsert did, once written."""
        changed = len(self.reopens) + len(self.moves)
        unchanged = self.total - len(self.inserts) - changed
        return UpsertCounts(new=len(self.inserts), changed=changed, unchanged=unchanged)


def plan_upsert(
    specs: Sequence[ItemSpec], stored: Mapping[tuple[str, str], Sequence[Any]]
) -> UpsertPlan:
    """Sort ``specs`` (from :func:`latest_specs`) against the ``stored`` rows (by repo and path,
    :data:`STORED_COLUMNS`). Raises :class:`IllegalTransition` when a changed source would move
    an item that may not go back to pending; nothing is written then."""
    plan = UpsertPlan(total=len(specs))
    for spec in specs:
        values = spec_to_row(spec)
        row = stored.get((spec.repo, spec.path))
        if row is None:
            plan.inserts.append(values)
        elif tuple(row[2:]) != values:
            item_id = int(row[0])
            old = spec_from_row(row[2:])
            if content_changed(old, spec):
                state = ItemState(row[1])
                # A pending item just gets its new facts; anything else moves, so check the move.
                if state is not ItemState.PENDING and not is_legal_transition(
                    state, ItemState.PENDING
                ):
                    raise IllegalTransition(
                        [Rejection(item_id, state, ItemState.PENDING, "source changed")]
                    )
                moved = (old.target_repo, old.target_path) != (spec.target_repo, spec.target_path)
                (plan.moves if moved else plan.reopens).append((item_id, values))
            else:
                plan.refreshes.append((item_id, values))
    return plan


# -- recorded outcomes ---------------------------------------------------------------------------


@dataclass(slots=True)
class OutcomeWrites:
    """What a batch of outcomes writes: one row per item (:data:`RECORD_COLUMNS` order)."""

    rejected: list[Rejection] = field(default_factory=list)
    rows: dict[int, list[Any]] = field(default_factory=dict)


def decide_outcomes(
    batch: Sequence[Pending], current_rows: Iterable[Sequence[Any]]
) -> OutcomeWrites:
    """Decide every outcome of ``batch`` in order, each seeing the item as the ones before left
    it, from the items' ``current_rows`` (:data:`CURRENT_COLUMNS`).

    Several outcomes for one item merge into one row as applying them one by one would: later
    values win, except where an outcome keeps a column (``None``).
    """
    current = {int(row[0]): CurrentState(ItemState(row[1]), *row[2:]) for row in current_rows}
    writes = OutcomeWrites()
    for pending in batch:
        decision = decide_record(
            pending.item_id,
            current.get(pending.item_id),
            pending.outcome,
            pending.owner,
            pending.at,
        )
        if isinstance(decision, Rejection):
            writes.rejected.append(decision)
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
        before = writes.rows.get(pending.item_id)
        if before is not None:
            values = [
                before[i] if keep and values[i] is None else values[i]
                for i, (_, keep) in enumerate(RECORD_COLUMNS)
            ]
        writes.rows[pending.item_id] = values
    return writes
