"""Re-checking the files recorded done against the target's listing, with memory that stays
flat however many files the target repository holds."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transfer.checkpoint import ItemSpec, Outcome, SqliteStore
from transfer.models import Checksums, ItemState
from transfer.pipeline.target_truth import reopen_changed
from transfer.targets.base import TargetFile

pytestmark = pytest.mark.anyio

LISTED = 100_000


def spec(n: int) -> ItemSpec:
    """File ``n``: ``n`` bytes, its sha1 the number ``n``, at the same path on both sides."""
    path, where = f"dir/{n:07d}.bin", {"repo": "generic", "target_repo": "generic-local"}
    return ItemSpec(
        package="p", version="1", path=path, target_path=path, size=n, sha1=f"{n:040x}", **where
    )


class BigRepository:
    """A target whose ``generic-local`` holds ``LISTED`` files: each copy as recorded, except
    that file 1 has other content there and file 2 is gone."""

    def __init__(self) -> None:
        self.listed: list[str] = []

    async def iter_files(self, repo_key: str) -> AsyncIterator[TargetFile]:
        self.listed.append(repo_key)
        for n in range(LISTED):
            if repo_key != "generic-local" or n == 2:
                continue
            sha1 = f"{n + 1 if n == 1 else n:040x}"
            yield TargetFile(repo_key, f"dir/{n:07d}.bin", n, Checksums(sha1=sha1))


async def test_reopens_what_the_target_lost_without_holding_its_listing(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "store.sqlite") as store:
        await store.upsert_items([spec(n) for n in (0, 1, 2, 99_999)])
        for work in await store.claim_batch("w", 10, 60):
            await store.record(work.id, Outcome(ItemState.DONE), owner="w")
        await store.flush()
        target = BigRepository()
        tracemalloc.start()
        try:
            reopened = await reopen_changed(store, target, repos=None, reason="re-checked")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert reopened == 2
        pending = {item.spec.path async for item in store.iter_items(states=[ItemState.PENDING])}
        assert pending == {"dir/0000001.bin", "dir/0000002.bin"}
        assert target.listed == ["generic-local"]  # one listing, however many items it had
    # held whole, the listing alone was ~40 MB of TargetFile objects
    assert peak < 8_000_000, peak
