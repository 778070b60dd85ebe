"""Shared discovery between workers of one run (``pipeline/coordination``), on two store objects
of one SQLite file in one process, whose named locks are exclusive within the process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from transfer.checkpoint import SqliteStore
from transfer.pipeline.coordination import discover_shared
from transfer.pipeline.discover import _PASS_DONE_KEY, _PASS_KEY, discovery_complete

pytestmark = pytest.mark.anyio


async def _start_pass(store: SqliteStore, number: int) -> None:
    await store.set_meta(_PASS_KEY, str(number))


async def _finish_pass(store: SqliteStore, number: int) -> None:
    await store.set_meta(_PASS_DONE_KEY, str(number))


async def test_second_worker_waits_for_the_discoverer_and_does_not_list_again(
    tmp_path: Path,
) -> None:
    ran: list[str] = []
    release = anyio.Event()
    started = anyio.Event()
    results: dict[str, bool] = {}

    async with SqliteStore(tmp_path / "s.db") as a, SqliteStore(tmp_path / "s.db") as b:

        async def discover_a() -> None:
            ran.append("a")
            await _start_pass(a, 1)
            started.set()
            await release.wait()
            await _finish_pass(a, 1)

        async def discover_b() -> None:
            ran.append("b")

        async def worker_a() -> None:
            results["a"] = await discover_shared(a, discover_a, owner="a", live_within=60)

        async def worker_b() -> None:
            await started.wait()
            results["b"] = await discover_shared(b, discover_b, owner="b", live_within=60)
            ran.append("b returned")

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(worker_a)
                group.start_soon(worker_b)
                await anyio.sleep(0.2)
                assert "b returned" not in ran  # still waiting for the discoverer
                release.set()
        assert ran == ["a", "b returned"]
        assert results == {"a": True, "b": False}
        assert await discovery_complete(b)


async def test_a_waiting_worker_finishes_the_pass_of_a_discoverer_that_died(
    tmp_path: Path,
) -> None:
    started = anyio.Event()
    resumed: list[str] = []

    async with SqliteStore(tmp_path / "s.db") as a, SqliteStore(tmp_path / "s.db") as b:

        async def dies_half_way() -> None:
            await _start_pass(a, 1)
            started.set()
            await anyio.sleep(0.1)
            raise RuntimeError("killed")

        async def resume() -> None:
            resumed.append(await a.get_meta(_PASS_KEY) or "")
            await _finish_pass(b, 1)

        async def worker_a() -> None:
            with pytest.raises(RuntimeError):
                await discover_shared(a, dies_half_way, owner="a", live_within=60)

        async def worker_b() -> None:
            await started.wait()
            assert await discover_shared(b, resume, owner="b", live_within=60)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(worker_a)
                group.start_soon(worker_b)
    assert resumed == ["1"]  # the same pass, resumed, not a new one


class _Listings:
    """A discovery that only counts how often it ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self) -> None:
        self.calls.append("listed")


@pytest.fixture
async def after_a_pass(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A store whose discovery pass 1 is complete."""
    async with SqliteStore(tmp_path / "s.db") as store:
        await _start_pass(store, 1)
        await _finish_pass(store, 1)
        yield store


async def test_joining_a_live_run_skips_a_new_pass_a_lone_worker_starts_one(
    after_a_pass: SqliteStore,
) -> None:
    store, discovery = after_a_pass, _Listings()
    await store.heartbeat_worker("other:1:abc", {})
    assert not await discover_shared(store, discovery, owner="me", live_within=60)
    assert discovery.calls == []
    # heard from too long ago, or liveness not asked for (SQLite): a new pass starts
    assert await discover_shared(store, discovery, owner="me", live_within=-1)
    assert await discover_shared(store, discovery, owner="me", live_within=None)
    assert discovery.calls == ["listed", "listed"]


async def test_finished_workers_and_this_workers_copy_processes_are_not_a_live_run(
    after_a_pass: SqliteStore,
) -> None:
    store, discovery = after_a_pass, _Listings()
    # an earlier run's worker that said it finished, and this one's own copy process
    await store.heartbeat_worker("other:1:abc", {"finished": True})
    await store.heartbeat_worker("here:2:def", {"parent": "me"})
    assert await discover_shared(store, discovery, owner="me", live_within=60)
    assert discovery.calls == ["listed"]  # a new pass, as a lone worker starts one
    # another worker's copy process is a live worker of the run
    await store.heartbeat_worker("here:3:ghi", {"parent": "someone else"})
    assert not await discover_shared(store, discovery, owner="me", live_within=60)
    assert discovery.calls == ["listed"]
