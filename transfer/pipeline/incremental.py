"""Incremental listing for sources that can list "only what changed since": each discovery
pass after the first lists the files modified since the previous *complete* pass began.

The instant comes from the source's own clock (:meth:`IncrementalListing.server_time`), read
when a pass begins and stored; it becomes the next pass's lower bound only once the pass has
run to its end, so a pass killed half way resumes with the same bound it started with (and
its pages keep their names).  The first pass lists everything.  Deletions are invisible to a
"modified since" listing, so after an incremental pass the paths alone are listed and compared
with the store (:func:`end_listing`); the caller reports them and never deletes anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Final, Protocol, runtime_checkable

from transfer.checkpoint.base import CheckpointStore
from transfer.pipeline.discover import discovery_complete

__all__ = ["IncrementalListing", "begin_listing", "end_listing"]

LISTED_SINCE: Final = "listing_since"
"""Store meta key: the lower bound of the current pass ("" or absent: everything)."""
PASS_STARTED: Final = "listing_pass_started"
"""Store meta key: when the current (or last) pass began, by the source's clock."""


@runtime_checkable
class IncrementalListing(Protocol):
    """A source that can restrict its listing to files modified after an instant."""

    def list_modified_since(self, instant: str | None) -> None:
        """List only files modified after ``instant`` (``None``: everything)."""
        ...

    async def server_time(self) -> str:
        """Now, by the source's clock."""
        ...

    def iter_paths(self, repo: str) -> AsyncIterator[str]:
        """Every file path of ``repo`` now (deletions are found against it)."""
        ...


async def begin_listing(source: IncrementalListing, store: CheckpointStore) -> str | None:
    """Before discovery: note when a new pass begins and set the source's lower bound;
    returns the bound (``None`` on the first pass)."""
    if await store.get_meta(PASS_STARTED) is None or await discovery_complete(store):
        await store.set_meta(PASS_STARTED, await source.server_time())
    since = await store.get_meta(LISTED_SINCE) or None
    source.list_modified_since(since)
    return since


async def end_listing(
    source: IncrementalListing, store: CheckpointStore, repos: Iterable[str]
) -> list[tuple[str, str]]:
    """After discovery: a complete pass moves the bound to when it began.  An incremental
    pass cannot see deletions in what it listed, so the paths of ``repos`` are listed (keys
    only) and compared with the store; returns (repo, path) of each file the store has and
    the source no longer does — to report, never to delete."""
    if not await discovery_complete(store):
        return []
    since = await store.get_meta(LISTED_SINCE)
    started = await store.get_meta(PASS_STARTED)
    if started:
        await store.set_meta(LISTED_SINCE, started)
    if not since:
        return []  # a full listing: nothing known before it
    gone: list[tuple[str, str]] = []
    for repo in repos:
        present = {path async for path in source.iter_paths(repo)}
        gone += [
            (repo, item.spec.path)
            async for item in store.iter_items(repo=repo)
            if item.spec.path not in present
        ]
    return gone
