"""The target's truth over the store's memory.

A store remembers which files it copied; the target may since have changed under it: another
URL, an instance re-installed (a new service id), a repository deleted and re-created (a new
creation time), files deleted or replaced by hand. A run records the target's identity in the
store; when the next run finds a different one, the items recorded ``done`` in what changed are
re-checked against the target (one listing per repository) and those missing or different go
back to ``pending``, so the run copies them again (their paths are probed first: a different file
found there is a conflict, never overwritten silently). ``transfer verify --repair`` re-opens
exactly what an audit found missing or different, from its ``verify.csv``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import anyio

from transfer.checkpoint.base import CheckpointStore, Item, Outcome
from transfer.models import Checksums, ItemState
from transfer.pipeline.audit import ListingTarget
from transfer.pipeline.planner import checksums_agree
from transfer.targets.base import TargetFile

__all__ = [
    "IdentifiedTarget",
    "IdentityChange",
    "identity_changes",
    "parse_identity",
    "reopen_changed",
    "reopen_from_audit",
]

_REPO = "repo:"


@runtime_checkable
class IdentifiedTarget(Protocol):
    """A target that can say which instance it is, and when each repository was created."""

    async def identity(self, repo_keys: Collection[str]) -> dict[str, str]:
        """``url``, ``service_id`` and ``repo:<key>`` → creation time (empty: absent)."""
        ...


@dataclass(frozen=True, slots=True)
class IdentityChange:
    """What differs from the identity recorded by an earlier run; ``repos`` None: all of them."""

    reason: str
    repos: frozenset[str] | None


def parse_identity(text: str | None) -> dict[str, str]:
    """A stored identity (JSON object of strings); empty when absent or unreadable."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def identity_changes(
    previous: Mapping[str, str], current: Mapping[str, str]
) -> IdentityChange | None:
    """How the target differs from the one an earlier run recorded, or None when it does not
    (or nothing was recorded: a first run has nothing to distrust). Pure."""
    if not previous:
        return None
    for key, what in (("url", "the target URL"), ("service_id", "the target's service id")):
        before, now = previous.get(key, ""), current.get(key, "")
        if before and now and before != now:
            return IdentityChange(f"{what} changed ({before} → {now})", None)
    repos = frozenset(
        key[len(_REPO) :]
        for key, before in previous.items()
        if key.startswith(_REPO) and before and current.get(key, before) != before
    )
    if repos:
        shown = ", ".join(sorted(repos))
        return IdentityChange(f"repositories deleted or re-created since: {shown}", repos)
    return None


def _differs(item: Item, found: TargetFile | None) -> bool:
    """Whether the target no longer holds ``item`` as copied (absent, other size or checksum)."""
    if found is None:
        return True
    spec = item.spec
    if found.size is not None and found.size != spec.size:
        return True
    declared = Checksums(sha1=spec.sha1, sha256=spec.sha256)
    return checksums_agree(declared, found.checksums) is False


async def reopen_changed(
    store: CheckpointStore, target: object, *, repos: Collection[str] | None, reason: str
) -> int:
    """Re-open the ``done`` items (in ``repos``, or all) the target no longer holds as recorded.

    One listing per target repository when the target can list (Artifactory); otherwise every
    such item is re-opened and the copy's probe decides. Returns how many went back to pending.
    """
    scope = None if repos is None else set(repos)
    lister = cast(ListingTarget, target) if hasattr(target, "iter_files") else None
    listings: dict[str, dict[str, TargetFile]] = {}
    reopened = 0
    async for item in store.iter_items(states=[ItemState.DONE]):
        key = item.spec.target_repo
        if scope is not None and key not in scope:
            continue
        if lister is not None:
            if key not in listings:
                listings[key] = {f.path: f async for f in lister.iter_files(key)}
            if not _differs(item, listings[key].get(item.spec.target_path)):
                continue
        await store.record(item.id, Outcome(ItemState.PENDING, error=reason))
        reopened += 1
    await store.flush()
    return reopened


async def reopen_from_audit(store: CheckpointStore, csv_path: Path) -> int:
    """Re-open the items ``verify`` found missing in the target or different there (rows of
    its ``verify.csv``), whatever the store recorded; returns how many went back to pending."""
    text = await anyio.Path(csv_path).read_text(encoding="utf-8")
    reopened = 0
    for row in csv.DictReader(text.splitlines()):
        if row.get("status") not in ("only_in_source", "differs"):
            continue
        item = await store.get_item(row["source_repo"], row["path"])
        if item is None or item.state in (ItemState.PENDING, ItemState.IN_FLIGHT):
            continue
        what = "missing in" if row["status"] == "only_in_source" else "different in"
        await store.record(item.id, Outcome(ItemState.PENDING, error=f"verify: {what} the target"))
        reopened += 1
    await store.flush()
    return reopened
