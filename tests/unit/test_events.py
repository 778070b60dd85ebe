"""EventBus and ProgressCounters: fan-out, per-type subscriptions, coalesced bytes, isolation."""

from __future__ import annotations

import dataclasses
import json

import pytest

from transfer.models import ItemState
from transfer.reporting import events
from transfer.reporting.events import (
    BytesMoved,
    CopiedElsewhere,
    DiscoveryProgress,
    Event,
    EventBus,
    ItemFinished,
    PhaseFinished,
    PhaseStarted,
    ProgressCounters,
    Retrying,
    RunStarted,
    ThrottleChanged,
    Totals,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def finished(path: str, state: ItemState = ItemState.DONE, size: int = 10) -> ItemFinished:
    return ItemFinished(
        repo="libs", path=path, state=state, how="streamed", bytes=size, duration=0.5
    )


def test_events_are_frozen_and_render_as_plain_data() -> None:
    event = finished("a/b.jar")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.path = "x"  # type: ignore[misc]
    data = event.as_dict()
    assert data["kind"] == "item_finished"
    assert data["state"] == "done"
    assert json.loads(json.dumps(data))["path"] == "a/b.jar"
    kinds = {
        cls.kind
        for cls in (RunStarted, PhaseStarted, PhaseFinished, DiscoveryProgress, BytesMoved,
                    ItemFinished, Retrying, ThrottleChanged)
    }  # fmt: skip
    assert len(kinds) == 8
    assert RunStarted(run="r", totals=Totals(3, 30)).as_dict()["totals"] == {
        "files": 3,
        "bytes": 30,
    }


def test_subscribers_get_every_event_in_order_and_can_leave() -> None:
    bus = EventBus()
    seen: list[Event] = []
    unsubscribe = bus.subscribe(seen.append)
    events = [PhaseStarted("files"), Retrying(attempt=1, delay=0.5, reason="503"), finished("p")]
    for event in events:
        bus.emit(event)
    assert seen == events
    unsubscribe()
    bus.emit(PhaseFinished("files", {"done": 1}))
    assert len(seen) == 3


def test_typed_subscription_only_receives_its_types() -> None:
    bus = EventBus()
    failures: list[Event] = []
    bus.subscribe(failures.append, Retrying, ThrottleChanged)
    bus.emit(finished("p"))
    bus.emit(Retrying(attempt=1, delay=0.5, reason="503"))
    bus.emit(ThrottleChanged(limit=1000))
    assert [type(e) for e in failures] == [Retrying, ThrottleChanged]


def test_bytes_are_coalesced_into_counters_without_events() -> None:
    bus = EventBus()
    everything: list[Event] = []
    bus.subscribe(everything.append)
    for _ in range(1000):
        bus.add_bytes(4096)
    assert bus.counters.bytes_moved == 4096 * 1000
    assert everything == []  # a catch-all subscriber never pays for per-chunk events
    chunks: list[Event] = []
    bus.subscribe(chunks.append, BytesMoved)
    bus.add_bytes(7)
    assert chunks == [BytesMoved(7)]
    assert everything == []
    assert bus.counters.bytes_moved == 4096 * 1000 + 7


def test_counters_follow_a_run() -> None:
    clock = FakeClock()
    bus = EventBus(ProgressCounters(clock))
    bus.emit(RunStarted(run="default", totals=Totals(4, 400), already_done=Totals(1, 100)))
    bus.emit(PhaseStarted("files"))
    bus.emit(DiscoveryProgress(repos=1, packages=2, versions=3, files=5, bytes=500))
    bus.emit(Retrying(attempt=1, delay=1.0, reason="reset", path="a"))
    bus.emit(finished("a", size=100))
    bus.emit(finished("b", ItemState.FAILED, size=0))
    bus.add_bytes(150)
    clock.now += 10
    snap = bus.counters.snapshot()
    assert (snap.files_total, snap.bytes_total) == (5, 500)
    assert (snap.files_done, snap.bytes_done, snap.bytes_moved) == (3, 200, 150)
    assert (snap.retries, snap.phase) == (1, "files")
    assert snap.by_state == {"done": 1, "failed": 1}
    assert snap.discovered == Totals(5, 500)
    assert snap.elapsed == 10
    bus.emit(finished("c", ItemState.PENDING, size=0))  # released unfinished (stop requested)
    assert bus.counters.snapshot().files_done == 3


def test_files_copied_by_other_copy_processes_count_as_done_here() -> None:
    bus = EventBus()
    bus.emit(RunStarted(run="default", totals=Totals(10, 1000), already_done=Totals(1, 100)))
    bus.emit(finished("a", size=100))
    bus.emit(CopiedElsewhere(files=3, bytes=300, moved=250, process=1))
    bus.add_bytes(100)
    snap = bus.counters.snapshot()
    assert (snap.files_done, snap.bytes_done, snap.bytes_moved) == (5, 500, 350)


def test_a_failing_subscriber_is_dropped_and_the_others_still_served() -> None:
    bus = EventBus()
    good: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("display bug")

    bus.subscribe(broken)
    bus.subscribe(good.append)
    bus.emit(PhaseStarted("a"))
    bus.emit(PhaseStarted("b"))
    assert [e.name for e in good if isinstance(e, PhaseStarted)] == ["a", "b"]
    assert [str(f) for f in bus.failures] == ["display bug"]


def test_no_event_is_built_per_chunk_when_nobody_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_events(n: int) -> BytesMoved:
        raise AssertionError("a BytesMoved event was built for nobody")

    bus = EventBus()
    bus.subscribe(lambda event: None)  # a catch-all subscriber does not ask for chunks
    monkeypatch.setattr(events, "BytesMoved", no_events)
    for _ in range(10_000):
        bus.add_bytes(65536)
    assert bus.counters.bytes_moved == 65536 * 10_000
