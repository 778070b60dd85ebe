"""Plain data shared by every layer: references, checksums and the item state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LEGAL_TRANSITIONS",
    "Checksums",
    "ItemState",
    "Rejection",
    "SourceFile",
    "is_legal_transition",
]


class ItemState(enum.StrEnum):
    """Where one file stands in a run. Stored as its string value."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CONFLICT = "conflict"

    @property
    def is_final(self) -> bool:
        """True for states that a plain re-run leaves alone."""
        return self in (ItemState.DONE, ItemState.SKIPPED, ItemState.CONFLICT, ItemState.FAILED)


_S = ItemState

LEGAL_TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
    # discovery creates items as pending; a source change re-opens a finished one.
    _S.PENDING: frozenset({_S.IN_FLIGHT, _S.SKIPPED, _S.CONFLICT, _S.FAILED, _S.DONE}),
    # a claim moves to in_flight; the worker records the outcome, or releases it
    # (pending) when stopped before finishing; a stale lease is re-checked on resume.
    _S.IN_FLIGHT: frozenset(
        {_S.DONE, _S.FAILED, _S.SKIPPED, _S.CONFLICT, _S.PENDING, _S.IN_FLIGHT}
    ),
    # --retry-failed and a changed source re-open finished items.
    _S.FAILED: frozenset({_S.PENDING}),
    _S.CONFLICT: frozenset({_S.PENDING}),
    _S.SKIPPED: frozenset({_S.PENDING}),
    _S.DONE: frozenset({_S.PENDING}),
}
"""The only legal state changes; every store write is checked against this table."""


def is_legal_transition(old: ItemState, new: ItemState) -> bool:
    """Whether an item may move from ``old`` to ``new``."""
    return new in LEGAL_TRANSITIONS[old]


@dataclass(frozen=True, slots=True)
class Checksums:
    """Hex digests of one file; any of them may be unknown (empty string)."""

    sha1: str = ""
    sha256: str = ""
    md5: str = ""

    def known(self) -> dict[str, str]:
        """The digests that are set, by algorithm name."""
        return {
            k: v for k, v in (("sha1", self.sha1), ("sha256", self.sha256), ("md5", self.md5)) if v
        }


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file as the source lists it: where it lives and what it should hash to."""

    repo: str
    package: str
    version: str
    path: str
    size: int
    sha1: str = ""
    sha256: str = ""
    published: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def declared(self) -> Checksums:
        """The checksums the source declared for this file."""
        return Checksums(sha1=self.sha1, sha256=self.sha256)


@dataclass(frozen=True, slots=True)
class Rejection:
    """One recorded outcome the store refused, and why."""

    item_id: int | None
    old: ItemState | None
    new: ItemState
    reason: str

    def __str__(self) -> str:
        old = self.old.value if self.old else "?"
        which = f"item {self.item_id}" if self.item_id is not None else f"all {old} items"
        return f"{which}: {old} -> {self.new.value} ({self.reason})"
