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
import itertools
import json
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import anyio

from transfer.checkpoint.base import CheckpointStore, Item, Outcome
from transfer.models import Checksums, ItemState
from transfer.pipeline.audit import TARGET_TABLE, ListingTarget, list_target, scratch_database
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
    The listings go into a temporary SQLite file (in ``TMPDIR``) and the items are looked up
    there a batch at a time, so memory stays flat however many files a repository holds.
    """
    scope = None if repos is None else set(repos)
    lister = cast(ListingTarget, target) if hasattr(target, "iter_files") else None
    in_scope = (
        item
        async for item in store.iter_items(states=[ItemState.DONE])
        if scope is None or item.spec.target_repo in scope
    )
    reopened = 0
    async with _listings(lister) as listings:
        async for batch in _batches(in_scope, _LOOKUPS_PER_BATCH):
            found = await listings.find(batch) if listings is not None else {}
            for item in batch:
                if listings is not None and not _differs(item, found.get(item.id)):
                    continue
                await store.record(item.id, Outcome(ItemState.PENDING, error=reason))
                reopened += 1
    await store.flush()
    return reopened


_LOOKUPS_PER_BATCH = 500
"""Items looked up in the listings at once (one query per repository of the batch)."""


async def _batches(items: AsyncIterator[Item], size: int) -> AsyncIterator[list[Item]]:
    batch: list[Item] = []
    async for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Listings:
    """The target repositories' files in a temporary SQLite file, each repository listed the
    first time one of its items is looked up."""

    def __init__(self, lister: ListingTarget, db: sqlite3.Connection) -> None:
        self._lister = lister
        self._db = db
        self._listed: set[str] = set()

    async def find(self, items: list[Item]) -> dict[int, TargetFile]:
        """What the target holds at each item's path, by item id (absent: not there)."""
        by_repo: dict[str, dict[str, list[Item]]] = {}
        for item in items:
            paths = by_repo.setdefault(item.spec.target_repo, {})
            paths.setdefault(item.spec.target_path, []).append(item)
        found: dict[int, TargetFile] = {}
        for key, wanted in by_repo.items():
            if key not in self._listed:
                await list_target(self._lister, key, self._db)
                self._listed.add(key)
            rows = await anyio.to_thread.run_sync(self._rows, key, list(wanted))
            for path, size, sha1, sha256 in rows:
                checksums = Checksums(sha1=sha1 or "", sha256=sha256 or "")
                for item in wanted[path]:
                    found[item.id] = TargetFile(key, path, size, checksums)
        return found

    def _rows(self, key: str, paths: list[str]) -> list[tuple[str, int | None, str, str]]:
        marks = ",".join("?" * len(paths))  # placeholders only: the values are parameters
        query = (
            f"SELECT path, size, sha1, sha256 FROM tgt WHERE target_repo = ? AND path IN ({marks})"
        )
        return self._db.execute(query, [key, *paths]).fetchall()


@asynccontextmanager
async def _listings(lister: ListingTarget | None) -> AsyncIterator[_Listings | None]:
    if lister is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="transfer-recheck-") as folder:
        async with scratch_database(Path(folder) / "target.sqlite", TARGET_TABLE) as db:
            yield _Listings(lister, db)


async def reopen_from_audit(store: CheckpointStore, csv_path: Path) -> int:
    """Re-open the items ``verify`` found missing in the target or different there (rows of
    its ``verify.csv``), whatever the store recorded; returns how many went back to pending.
    The report is read a batch of rows at a time (it has a row per file that differs)."""
    reopened = 0
    # opened here, read a batch at a time on a worker thread
    with open(csv_path, encoding="utf-8", newline="") as report:  # noqa: ASYNC230
        rows = csv.DictReader(report)
        while batch := await anyio.to_thread.run_sync(_next_rows, rows):
            for row in batch:
                if row.get("status") not in ("only_in_source", "differs"):
                    continue
                item = await store.get_item(row["source_repo"], row["path"])
                if item is None or item.state in (ItemState.PENDING, ItemState.IN_FLIGHT):
                    continue
                what = "missing in" if row["status"] == "only_in_source" else "different in"
                outcome = Outcome(ItemState.PENDING, error=f"verify: {what} the target")
                await store.record(item.id, outcome)
                reopened += 1
    await store.flush()
    return reopened


def _next_rows(rows: Iterator[dict[str, str]]) -> list[dict[str, str]]:
    return list(itertools.islice(rows, 1000))
