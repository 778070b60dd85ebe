"""The CheckpointStore contract: every implementation must pass all of these unchanged."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import pytest

from transfer.checkpoint import (
    CheckpointStore,
    ItemSpec,
    Outcome,
    StateCount,
    UpsertCounts,
)
from transfer.checkpoint.base import EVERYTHING, Share
from transfer.errors import IllegalTransition
from transfer.models import Checksums, ItemState, SourceFile
from transfer.runner import reap_dead_workers

pytestmark = pytest.mark.anyio

S = ItemState


class FakeClock(Protocol):
    """The ``clock`` fixture (see conftest): call it for the time, ``advance`` to move it."""

    now: float

    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class StoreOpener(Protocol):
    """The ``open_store`` fixture: a new, not yet entered store object on the same storage."""

    def __call__(self, *, run: str = "default", **options: Any) -> CheckpointStore: ...


def spec(n: int, *, repo: str = "maven", size: int = 100, sha1: str = "", **kw: Any) -> ItemSpec:
    """A distinct item spec number ``n``."""
    return ItemSpec(
        repo=repo,
        package="pkg",
        version="1.0",
        path=f"org/pkg/1.0/file-{n:06d}.jar",
        size=size,
        sha1=sha1 or f"{n:040x}",
        target_repo=f"{repo}-local",
        target_path=f"org/pkg/1.0/file-{n:06d}.jar",
        **kw,
    )


async def seed(store: CheckpointStore, n: int, **kw: Any) -> list[int]:
    """Upsert ``n`` items and return their ids in discovery order."""
    await store.upsert_items([spec(i, **kw) for i in range(n)])
    return [item.id async for item in store.iter_items()]


async def state_of(store: CheckpointStore, item_id: int) -> ItemState:
    async for item in store.iter_items():
        if item.id == item_id:
            return item.state
    raise AssertionError(f"no item {item_id}")


async def finish(store: CheckpointStore, owner: str, state: ItemState, n: int) -> list[int]:
    """Claim ``n`` items for ``owner`` and record them ``state``; returns their ids."""
    claimed = await store.claim_batch(owner, n, 60)
    for work in claimed:
        await store.record(work.id, Outcome(state=state, add_attempts=1), owner=owner)
    await store.flush()
    return [w.id for w in claimed]


# -- discovery ---------------------------------------------------------------------------------


async def test_upsert_counts_new_changed_unchanged(store: CheckpointStore) -> None:
    first = await store.upsert_items([spec(i) for i in range(5)])
    assert first == UpsertCounts(new=5, changed=0, unchanged=0)

    again = await store.upsert_items([spec(i) for i in range(5)] + [spec(5)])
    assert again == UpsertCounts(new=1, changed=0, unchanged=5)

    changed = await store.upsert_items([spec(0, size=999), spec(1, sha1="f" * 40), spec(2)])
    assert changed == UpsertCounts(new=0, changed=2, unchanged=1)
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert item.spec.size == 999
    assert item.state is S.PENDING


async def test_upsert_keeps_every_field(store: CheckpointStore) -> None:
    src = SourceFile(
        repo="r ü",
        package="p/k",
        version="1.0-β",
        path="a b/ç?#.bin",
        size=12,
        sha1="a" * 40,
        sha256="b" * 64,
        published=False,
        extra={"nested": {"x": [1, 2]}, "none": None},
    )
    wanted = ItemSpec.from_source(
        src,
        target_repo="t",
        target_path="x/y.bin",
        properties={"k": ["v1", "v2"], "e": []},
        phase=2,
    )
    await store.upsert_items([wanted])
    item = await store.get_item("r ü", "a b/ç?#.bin")
    assert item is not None
    assert item.spec == wanted
    assert item.spec.source == src
    assert item.state is S.PENDING
    assert item.attempts == 0
    assert await store.get_item("r ü", "missing") is None


async def test_duplicates_in_one_batch_last_wins(store: CheckpointStore) -> None:
    counts = await store.upsert_items([spec(1), spec(1, size=7)])
    assert counts == UpsertCounts(new=1)
    item = await store.get_item("maven", spec(1).path)
    assert item is not None
    assert item.spec.size == 7


async def test_changed_source_reopens_finished_item_and_clears_outcome_but_what_it_wrote(
    store: CheckpointStore,
) -> None:
    [item_id] = await seed(store, 1)
    [work] = await store.claim_batch("w", 1, 60)
    done = Outcome(
        state=S.DONE,
        add_attempts=1,
        how="streamed",
        bytes_transferred=100,
        target=Checksums(sha1="1" * 40, md5="2" * 32),
    )
    await store.record(work.id, done, owner="w")
    await store.flush()

    counts = await store.upsert_items([spec(0, size=101)])
    assert counts == UpsertCounts(changed=1)
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert item.id == item_id
    assert item.state is S.PENDING
    assert (item.attempts, item.how, item.bytes_transferred) == (0, "", 0)
    assert item.finished_at is None
    # What the earlier run wrote at the (unchanged) target path stays, and comes with the claim:
    # the planner tells that copy of ours from someone else's file by it.
    assert item.target == done.target
    [again] = await store.claim_batch("w", 1, 60)
    assert (again.id, again.written) == (item_id, done.target)


async def test_unchanged_finished_item_stays_and_metadata_refreshes(
    store: CheckpointStore,
) -> None:
    await seed(store, 1)
    await finish(store, "w", S.DONE, 1)
    counts = await store.upsert_items([spec(0, properties={"new": ["prop"]}, published=False)])
    assert counts == UpsertCounts(unchanged=1)
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert item.state is S.DONE
    assert item.spec.properties == {"new": ["prop"]}
    assert item.spec.published is False


async def test_changed_target_path_reopens(store: CheckpointStore) -> None:
    await seed(store, 1)
    [work] = await store.claim_batch("w", 1, 60)
    wrote = Outcome(state=S.DONE, add_attempts=1, target=Checksums(sha1="1" * 40))
    await store.record(work.id, wrote, owner="w")
    await store.flush()
    moved = dataclasses.replace(spec(0), target_path="elsewhere.jar")
    assert await store.upsert_items([moved]) == UpsertCounts(changed=1)
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.state, item.target) == (S.PENDING, Checksums())  # nothing of ours at the new path
    [work] = await store.claim_batch("w", 1, 60)
    assert work.written == Checksums()


async def test_discovery_scopes_and_meta(store: CheckpointStore) -> None:
    assert not await store.is_discovered("maven/pkg/1.0")
    await store.mark_discovered("maven/pkg/1.0")
    await store.mark_discovered("maven/pkg/1.0")
    assert await store.is_discovered("maven/pkg/1.0")
    assert not await store.is_discovered("maven/pkg/2.0")
    assert await store.clear_discovered() == 1
    assert not await store.is_discovered("maven/pkg/1.0")

    assert await store.get_meta("config_fingerprint") is None
    await store.set_meta("config_fingerprint", "abc")
    await store.set_meta("config_fingerprint", "def")
    assert await store.get_meta("config_fingerprint") == "def"


# -- claiming ----------------------------------------------------------------------------------


async def test_claim_respects_limit_and_discovery_order(store: CheckpointStore) -> None:
    ids = await seed(store, 10)
    first = await store.claim_batch("w", 4, 60)
    second = await store.claim_batch("w", 4, 60)
    third = await store.claim_batch("w", 4, 60)
    assert [w.id for w in first] == ids[:4]
    assert [w.id for w in second] == ids[4:8]
    assert [w.id for w in third] == ids[8:]
    assert await store.claim_batch("w", 4, 60) == []
    assert not any(w.recheck for w in first + second + third)
    assert first[0].spec == spec(0)
    assert (await store.counts())[S.IN_FLIGHT].items == 10


async def test_claim_sets_lease(store: CheckpointStore, clock: FakeClock) -> None:
    await seed(store, 1)
    [work] = await store.claim_batch("w1", 1, 30)
    assert work.lease_expires == clock.now + 30
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.state, item.lease_owner, item.lease_expires) == (S.IN_FLIGHT, "w1", clock.now + 30)
    assert item.started_at == clock.now


async def test_concurrent_claimers_never_share_an_item(
    store: CheckpointStore, open_store: StoreOpener
) -> None:
    ids = await seed(store, 300)
    claimed: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    all_started = anyio.Event()

    async def claimer(owner: str, on: CheckpointStore) -> None:
        claimed[owner].extend(w.id for w in await on.claim_batch(owner, 7, 60))
        if all(claimed.values()):
            all_started.set()
        await all_started.wait()  # so that every claimer takes part, whatever the scheduling
        while batch := await on.claim_batch(owner, 7, 60):
            claimed[owner].extend(w.id for w in batch)
            await anyio.lowlevel.checkpoint()

    async with open_store() as other, anyio.create_task_group() as tg:
        tg.start_soon(claimer, "a", store)
        tg.start_soon(claimer, "b", store)
        tg.start_soon(claimer, "c", other)  # a second connection to the same storage
    sets = [set(v) for v in claimed.values()]
    assert sum(len(v) for v in claimed.values()) == len(ids)
    assert set.union(*sets) == set(ids)
    assert not sets[0] & sets[1]
    assert not sets[0] & sets[2]
    assert not sets[1] & sets[2]


async def test_expired_lease_is_reclaimed_with_recheck(
    store: CheckpointStore, clock: FakeClock
) -> None:
    ids = await seed(store, 3)
    await store.claim_batch("dead", 1, 10)
    await store.claim_batch("alive", 1, 100)
    clock.advance(5)
    assert [w.id for w in await store.claim_batch("new", 10, 60)] == [ids[2]]
    clock.advance(6)  # "dead" expired, "alive" has not
    [taken] = await store.claim_batch("new", 10, 60)
    assert (taken.id, taken.recheck) == (ids[0], True)
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert item.lease_owner == "new"
    assert await store.claim_batch("new", 10, 60) == []


async def test_expired_and_pending_are_claimed_in_id_order(
    store: CheckpointStore, clock: FakeClock
) -> None:
    ids = await seed(store, 4)
    await store.claim_batch("dead", 2, 10)
    clock.advance(11)
    work = await store.claim_batch("new", 3, 60)
    assert [(w.id, w.recheck) for w in work] == [(ids[0], True), (ids[1], True), (ids[2], False)]


async def test_a_share_claims_its_own_pending_items_and_anyones_expired_leases(
    store: CheckpointStore, clock: FakeClock
) -> None:
    ids = await seed(store, 9)
    thirds = [Share(i, 3) for i in range(3)]
    taken = {
        s: [w.id for w in await store.claim_batch(f"p{s.index}", 2, 60, share=s)] for s in thirds
    }
    for s, got in taken.items():  # its own only, in id order
        assert got == [i for i in ids if i % 3 == s.index][:2]
    clock.advance(61)  # every lease expired: the one who claims next rechecks them, any share
    again = await store.claim_batch("p0", 9, 60, share=thirds[0])
    rechecked = {w.id for w in again if w.recheck}
    assert rechecked == {i for got in taken.values() for i in got}
    fresh = [w.id for w in again if not w.recheck]
    assert fresh == [i for i in ids if i % 3 == 0 and i not in rechecked]
    rest = await store.claim_batch("p1", 9, 60)  # the whole run: what the shares left
    assert sorted(w.id for w in again + rest) == ids


def test_a_share_must_exist() -> None:
    for index, of in ((0, 0), (3, 3), (-1, 2)):
        with pytest.raises(ValueError, match="does not exist"):
            Share(index, of)
    assert Share(0, 1) == EVERYTHING


async def test_a_later_phase_waits_until_no_earlier_one_is_pending_or_in_flight(
    store: CheckpointStore, clock: FakeClock
) -> None:
    # discovery order: a POM-like item (phase 1) and a checksum-file-like one (phase 2)
    # come before the files they describe, yet are claimed only after those are finished
    await store.upsert_items([spec(0, phase=2), spec(1, phase=1), spec(2), spec(3)])
    ids = {item.spec.path: item.id async for item in store.iter_items()}
    first = await store.claim_batch("a", 10, 10)
    assert [w.spec.path for w in first] == [spec(2).path, spec(3).path]
    assert await store.claim_batch("b", 10, 60) == []  # phase 0 still in flight
    assert await store.outstanding("b")
    await store.record(first[0].id, Outcome(S.DONE, add_attempts=1), owner="a")
    await store.flush()
    clock.advance(11)  # "a" died holding the other one: it comes back first, on its own
    again = await store.claim_batch("b", 10, 60)
    assert [(w.id, w.recheck) for w in again] == [(first[1].id, True)]
    await store.record(again[0].id, Outcome(S.FAILED, add_attempts=1), owner="b")
    await store.flush()
    [pom] = await store.claim_batch("b", 10, 60)  # a failure does not hold later phases
    assert (pom.id, pom.spec.phase) == (ids[spec(1).path], 1)
    assert await store.claim_batch("c", 10, 60) == []
    await store.record(pom.id, Outcome(S.DONE, add_attempts=1), owner="b")
    await store.flush()
    [side] = await store.claim_batch("c", 10, 60)
    assert side.spec.phase == 2


async def test_renew_leases_keeps_items(store: CheckpointStore, clock: FakeClock) -> None:
    await seed(store, 3)
    await store.claim_batch("w", 2, 10)
    await store.claim_batch("other", 1, 10)
    clock.advance(8)
    assert await store.renew_leases("w", 10) == 2
    clock.advance(8)
    [stolen] = await store.claim_batch("thief", 10, 10)
    assert stolen.spec.path == spec(2).path  # only "other"'s lapsed lease
    assert stolen.recheck


async def test_release_returns_owner_items_to_pending(store: CheckpointStore) -> None:
    ids = await seed(store, 5)
    await store.claim_batch("stopping", 2, 60)
    await store.claim_batch("busy", 2, 60)
    assert await store.release("stopping") == 2
    assert await store.release("stopping") == 0
    counts = await store.counts()
    assert (counts[S.PENDING].items, counts[S.IN_FLIGHT].items) == (3, 2)
    again = await store.claim_batch("next", 10, 60)
    assert [w.id for w in again] == [ids[0], ids[1], ids[4]]
    assert not any(w.recheck for w in again)


async def test_outstanding_sees_pending_and_other_owners_leases_only(
    store: CheckpointStore,
) -> None:
    assert not await store.outstanding("me")
    await seed(store, 2)
    assert await store.outstanding("me")
    await store.claim_batch("me", 2, 60)
    assert not await store.outstanding("me")
    assert await store.outstanding("someone else")


async def test_expired_leases_of_a_dead_owner_are_reclaimed_with_recheck(
    store: CheckpointStore,
) -> None:
    ids = await seed(store, 2)
    await store.claim_batch("dead", 2, 600)
    assert await store.claim_batch("alive", 10, 60) == []  # the leases still run
    assert await store.expire_leases("dead") == 2
    again = await store.claim_batch("next", 10, 60)
    assert [(w.id, w.recheck) for w in again] == [(ids[0], True), (ids[1], True)]


async def test_lease_owners_are_the_owners_of_in_flight_items_only(
    store: CheckpointStore,
) -> None:
    """Whether or not they ever heartbeated: a run killed between its first claim and its
    first heartbeat is known by its leases alone."""
    ids = await seed(store, 4)
    assert await store.lease_owners() == []
    await store.claim_batch("host:2:b", 2, 60)
    await store.claim_batch("host:1:a", 1, 60)
    await store.heartbeat_worker("host:3:idle", {})  # heartbeated, holds nothing
    assert await store.lease_owners() == ["host:1:a", "host:2:b"]
    await store.record(ids[2], Outcome(state=S.DONE, bytes_transferred=1), owner="host:1:a")
    await store.flush()
    assert await store.lease_owners() == ["host:2:b"]
    await store.release("host:2:b")
    assert await store.lease_owners() == []


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


async def test_a_restart_reaps_the_leases_of_killed_runs_on_this_host(
    store: CheckpointStore,
) -> None:
    """:func:`~transfer.runner.reap_dead_workers` expires the leases of dead processes on this
    host, including a run killed between its first claim and its first heartbeat (seen under
    load in tests/reliability/test_torture.py: the next run waited out 64 files' leases)."""
    here = socket.gethostname()
    ids = await seed(store, 4)
    await store.claim_batch(f"{here}:{_dead_pid()}:abc123", 2, 600)  # no heartbeat, ever
    await store.claim_batch(f"{here}:{os.getpid()}:me", 1, 600)  # alive: this process
    await store.claim_batch(f"elsewhere:{_dead_pid()}:def456", 1, 600)  # not ours to judge
    assert await store.list_workers() == []
    assert await reap_dead_workers(store) == 2
    again = await store.claim_batch("next", 10, 60)
    assert [(w.id, w.recheck) for w in again] == [(ids[0], True), (ids[1], True)]


async def test_release_applies_queued_outcomes_first(store: CheckpointStore) -> None:
    await seed(store, 2)
    first, _second = await store.claim_batch("w", 2, 60)
    await store.record(first.id, Outcome(state=S.DONE), owner="w")
    assert await store.release("w") == 1
    assert await state_of(store, first.id) is S.DONE


# -- recording ---------------------------------------------------------------------------------


async def test_record_writes_outcome_fields(store: CheckpointStore, clock: FakeClock) -> None:
    await seed(store, 1)
    [work] = await store.claim_batch("w", 1, 60)
    clock.advance(3)
    await store.record(work.id, Outcome(state=S.IN_FLIGHT, add_attempts=1, error="reset"))
    await store.record(
        work.id,
        Outcome(
            state=S.DONE,
            add_attempts=1,
            http_status=201,
            bytes_transferred=100,
            duration=2.5,
            target=Checksums(sha1="1" * 40, sha256="2" * 64, md5="3" * 32),
            how="streamed",
        ),
        owner="w",
    )
    await store.flush()
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert item.state is S.DONE
    assert item.attempts == 2
    assert item.last_error == "reset"  # kept: None means "leave as is"
    assert (item.http_status, item.bytes_transferred, item.duration, item.how) == (
        201,
        100,
        2.5,
        "streamed",
    )
    assert item.target == Checksums(sha1="1" * 40, sha256="2" * 64, md5="3" * 32)
    assert (item.lease_owner, item.lease_expires) == (None, None)
    assert item.finished_at == clock.now
    assert item.updated_at == clock.now


async def test_record_absolute_attempts_and_skip_reason(store: CheckpointStore) -> None:
    [item_id] = await seed(store, 1)
    await store.record(item_id, Outcome(state=S.SKIPPED, attempts=5, error="unpublished"))
    await store.flush()
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.state, item.attempts, item.last_error) == (S.SKIPPED, 5, "unpublished")


@pytest.mark.parametrize(
    ("before", "after"),
    [(S.DONE, S.FAILED), (S.FAILED, S.DONE), (S.DONE, S.IN_FLIGHT), (S.SKIPPED, S.CONFLICT)],
)
async def test_illegal_transitions_are_refused(
    store: CheckpointStore, before: ItemState, after: ItemState
) -> None:
    [item_id] = await seed(store, 1)
    await store.record(item_id, Outcome(state=before, error="first"))
    await store.flush()
    await store.record(item_id, Outcome(state=after, error="second"))
    with pytest.raises(IllegalTransition, match=f"{before.value} -> {after.value}") as info:
        await store.flush()
    assert info.value.rejections[0].item_id == item_id
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.state, item.last_error) == (before, "first")
    await store.flush()  # reported once, then cleared


async def test_pending_to_pending_and_unknown_item_are_refused(store: CheckpointStore) -> None:
    [item_id] = await seed(store, 1)
    await store.record(item_id, Outcome(state=S.PENDING))
    await store.record(item_id + 1000, Outcome(state=S.DONE))
    with pytest.raises(IllegalTransition) as info:
        await store.flush()
    assert {r.item_id for r in info.value.rejections} == {item_id, item_id + 1000}


async def test_only_a_claim_puts_an_item_in_flight(store: CheckpointStore) -> None:
    [item_id] = await seed(store, 1)
    await store.record(item_id, Outcome(state=S.IN_FLIGHT))
    with pytest.raises(IllegalTransition, match="claim"):
        await store.flush()
    assert await state_of(store, item_id) is S.PENDING


async def test_refused_record_is_raised_by_next_record(store: CheckpointStore) -> None:
    ids = await seed(store, 2)
    await store.record(ids[0], Outcome(state=S.PENDING))
    await store.counts()  # waits for the writer, does not raise
    with pytest.raises(IllegalTransition):
        await store.record(ids[1], Outcome(state=S.DONE))
    await store.flush()  # the raising call's own outcome was still queued
    assert await state_of(store, ids[1]) is S.DONE


async def test_late_outcome_from_lost_lease_is_dropped(
    store: CheckpointStore, clock: FakeClock
) -> None:
    await seed(store, 1)
    [old] = await store.claim_batch("slow", 1, 10)
    clock.advance(11)
    [new] = await store.claim_batch("fast", 1, 10)
    await store.record(new.id, Outcome(state=S.DONE, how="already_present"), owner="fast")
    await store.record(old.id, Outcome(state=S.FAILED, error="late"), owner="slow")
    await store.flush()  # no IllegalTransition: the stale outcome is not an error
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.state, item.how, item.last_error) == (S.DONE, "already_present", "")


async def test_outcome_for_item_reopened_by_discovery_is_dropped(store: CheckpointStore) -> None:
    await seed(store, 1)
    [work] = await store.claim_batch("w", 1, 60)
    assert await store.upsert_items([spec(0, size=5)]) == UpsertCounts(changed=1)
    await store.record(work.id, Outcome(state=S.DONE), owner="w")
    await store.flush()
    assert await state_of(store, work.id) is S.PENDING


async def test_many_records_reach_the_store(store: CheckpointStore) -> None:
    await seed(store, 1000)
    work = await store.claim_batch("w", 1000, 60)
    for w in work:
        await store.record(w.id, Outcome(state=S.DONE, bytes_transferred=w.spec.size), owner="w")
    counts = await store.counts()  # reads wait for queued records of the same store
    assert counts[S.DONE] == StateCount(1000, 100_000)


async def test_records_commit_without_flush(
    store: CheckpointStore, open_store: StoreOpener
) -> None:
    [item_id] = await seed(store, 1)
    await store.record(item_id, Outcome(state=S.DONE))
    async with open_store() as other:
        with anyio.fail_after(5):
            # another connection: nothing to wait on but the data itself
            while (await other.counts())[S.DONE].items != 1:  # noqa: ASYNC110
                await anyio.sleep(0.01)


async def test_reset_failed_to_pending(store: CheckpointStore) -> None:
    await seed(store, 6)
    failed = await finish(store, "w", S.FAILED, 2)
    await finish(store, "w", S.CONFLICT, 1)
    await finish(store, "w", S.DONE, 1)
    assert await store.reset([S.FAILED]) == 2
    counts = await store.counts()
    assert counts[S.FAILED].items == 0
    assert counts[S.PENDING].items == 4
    assert counts[S.CONFLICT].items == 1
    item = await store.get_item("maven", spec(0).path)
    assert item is not None
    assert (item.id, item.state, item.attempts, item.finished_at) == (failed[0], S.PENDING, 1, None)
    assert await store.reset([S.FAILED, S.CONFLICT]) == 1
    assert await store.reset([]) == 0


async def test_reset_refuses_pending(store: CheckpointStore) -> None:
    await seed(store, 1)
    with pytest.raises(IllegalTransition, match="pending"):
        await store.reset([S.PENDING, S.FAILED])


# -- queries -----------------------------------------------------------------------------------


async def test_counts_items_and_bytes_per_state_and_repo(store: CheckpointStore) -> None:
    await store.upsert_items([spec(i, repo="a", size=10) for i in range(4)])
    await store.upsert_items([spec(i, repo="b", size=1000) for i in range(3)])
    await finish(store, "w", S.DONE, 5)  # a0..a3, b0
    counts = await store.counts()
    assert counts[S.DONE] == StateCount(5, 1040)
    assert counts[S.PENDING] == StateCount(2, 2000)
    assert counts[S.FAILED] == StateCount(0, 0)
    assert counts.total == StateCount(7, 3040)
    assert counts.by_repo["a"][S.DONE] == StateCount(4, 40)
    assert counts.by_repo["b"][S.DONE] == StateCount(1, 1000)
    assert counts.by_repo["b"][S.PENDING] == StateCount(2, 2000)
    assert set(counts.by_repo) == {"a", "b"}


async def test_counts_of_empty_run(store: CheckpointStore) -> None:
    counts = await store.counts()
    assert counts.total == StateCount()
    assert counts.by_repo == {}


async def test_iter_items_streams_with_filters(store: CheckpointStore) -> None:
    await store.upsert_items([spec(i, repo="a") for i in range(23)])
    await store.upsert_items([spec(i, repo="b") for i in range(7)])
    done = set(await finish(store, "w", S.DONE, 10))

    everything = [item async for item in store.iter_items(batch=4)]
    assert len(everything) == 30
    assert [i.id for i in everything] == sorted(i.id for i in everything)

    only_b = [item async for item in store.iter_items(repo="b", batch=3)]
    assert {i.spec.repo for i in only_b} == {"b"}
    assert len(only_b) == 7

    finished = [item async for item in store.iter_items(states=[S.DONE], batch=3)]
    assert {i.id for i in finished} == done

    mixed = [i async for i in store.iter_items(states=[S.DONE, S.PENDING], repo="a", batch=5)]
    assert len(mixed) == 23
    assert [i async for i in store.iter_items(states=[])] == []
    assert len([i async for i in store.iter_items(batch=0)]) == 30
    assert [i async for i in store.iter_items(states=[S.FAILED])] == []


async def test_side_records(store: CheckpointStore, clock: FakeClock) -> None:
    assert await store.get_side("repository", "maven") is None
    await store.record_side("repository", "maven", "done", {"created": True})
    await store.record_side("user", "alice", "failed", {"error": "403"})
    clock.advance(1)
    await store.record_side("repository", "maven", "updated", {"created": False})
    for i in range(600):  # more than one page
        await store.record_side("property", f"k{i:04d}", "done", {})

    maven = await store.get_side("repository", "maven")
    assert maven is not None
    assert (maven.state, maven.detail, maven.updated_at) == (
        "updated",
        {"created": False},
        clock.now,
    )
    every = [r async for r in store.iter_side()]
    assert len(every) == 602
    assert [(r.kind, r.key) for r in every] == sorted((r.kind, r.key) for r in every)
    users = [r async for r in store.iter_side("user")]
    assert [(r.key, r.state, r.detail) for r in users] == [("alice", "failed", {"error": "403"})]


async def test_workers_heartbeat(store: CheckpointStore, clock: FakeClock) -> None:
    assert await store.list_workers() == []
    start = clock.now
    await store.heartbeat_worker("host-b:2", {"done": 1})
    await store.heartbeat_worker("host-a:1", {"done": 0})
    clock.advance(5)
    await store.heartbeat_worker("host-b:2", {"done": 7, "bytes": 10})
    workers = await store.list_workers()
    assert [w.owner for w in workers] == ["host-a:1", "host-b:2"]
    assert workers[1].stats == {"done": 7, "bytes": 10}
    assert (workers[1].first_seen, workers[1].last_seen) == (start, start + 5)


# -- durability and runs -----------------------------------------------------------------------


async def test_flushed_records_survive_close_and_reopen(open_store: StoreOpener) -> None:
    async with open_store() as first:
        ids = await seed(first, 3)
        [work] = await first.claim_batch("w", 1, 60)
        await first.record(work.id, Outcome(state=S.DONE, how="dedup"), owner="w")
        await first.set_meta("k", "v")
        await first.mark_discovered("maven")
    async with open_store() as second:  # close flushed the record
        item = await second.get_item("maven", spec(0).path)
        assert item is not None
        assert (item.id, item.state, item.how) == (ids[0], S.DONE, "dedup")
        assert await second.get_meta("k") == "v"
        assert await second.is_discovered("maven")
        assert await second.upsert_items([spec(i) for i in range(3)]) == UpsertCounts(unchanged=3)


async def test_second_store_object_sees_flushed_state(
    store: CheckpointStore, open_store: StoreOpener, clock: FakeClock
) -> None:
    await seed(store, 3)
    work = await store.claim_batch("crashing", 3, 30)
    await store.record(work[0].id, Outcome(state=S.DONE), owner="crashing")
    await store.flush()
    # "crashing" never finishes the other two; a second process resumes after the lease.
    async with open_store() as resumed:
        clock.advance(31)
        again = await resumed.claim_batch("resumer", 10, 30)
        assert [(w.id, w.recheck) for w in again] == [(work[1].id, True), (work[2].id, True)]
        counts = await resumed.counts()
        assert counts[S.DONE].items == 1


async def test_store_conforms_and_can_be_reopened(open_store: StoreOpener) -> None:
    again = open_store()
    assert isinstance(again, CheckpointStore)
    assert not again.readonly
    async with again:
        await seed(again, 2)
    async with again:
        assert (await again.counts())[S.PENDING].items == 2
        [work] = await again.claim_batch("w", 1, 60)
        await again.record(work.id, Outcome(state=S.DONE), owner="w")
    async with open_store() as other:
        assert (await other.counts())[S.DONE].items == 1


async def test_runs_are_separate(store: CheckpointStore, open_store: StoreOpener) -> None:
    await seed(store, 2)
    await store.set_meta("k", "default")
    async with open_store(run="second") as other:
        assert other.run == "second"
        assert (await other.counts()).total == StateCount()
        assert await other.get_meta("k") is None
        assert await other.upsert_items([spec(0)]) == UpsertCounts(new=1)
        assert await other.claim_batch("w", 10, 60) != []
    assert (await store.counts())[S.PENDING].items == 2


# -- named locks -------------------------------------------------------------------------------


async def test_exclusive_lock_is_held_for_the_block(
    store: CheckpointStore, open_store: StoreOpener
) -> None:
    async with open_store() as other, open_store(run="second") as elsewhere:
        async with store.exclusive("discovery") as held:
            assert held
            async with other.exclusive("discovery", wait=False) as taken:
                assert not taken
            async with other.exclusive("phase:repositories", wait=False) as free_name:
                assert free_name
            async with elsewhere.exclusive("discovery", wait=False) as free_run:
                assert free_run
        async with other.exclusive("discovery", wait=False) as released:
            assert released


async def test_exclusive_waits_for_the_holder(
    store: CheckpointStore, open_store: StoreOpener
) -> None:
    order: list[str] = []
    holding = anyio.Event()

    async def first() -> None:
        async with store.exclusive("phase:security"):
            order.append("first in")
            holding.set()
            await anyio.sleep(0.3)
            order.append("first out")

    async def second(on: CheckpointStore) -> None:
        await holding.wait()
        async with on.exclusive("phase:security") as held:
            assert held
            order.append("second in")

    async with open_store() as other:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                tg.start_soon(second, other)
    assert order == ["first in", "first out", "second in"]
