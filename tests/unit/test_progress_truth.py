"""Progress that tells the truth: no percentage or total while the listing grows, side phases
by name with their own counts, copies in flight counted, counters never past their totals,
rates in the units caps are written in."""

from __future__ import annotations

from transfer.models import ItemState
from transfer.reporting.events import (
    DiscoveryProgress,
    EventBus,
    ItemFinished,
    PhaseProgress,
    PhaseStarted,
    RunStarted,
    Totals,
)
from transfer.reporting.progress import format_line, format_rate


def _finished(path: str) -> ItemFinished:
    return ItemFinished(
        repo="r", path=path, state=ItemState.DONE, how="streamed", bytes=10, duration=0.1
    )


def test_while_the_listing_grows_there_is_no_total() -> None:
    bus = EventBus()
    bus.emit(PhaseStarted("artifacts"))
    bus.emit(RunStarted(run="default", totals=Totals(0, 0)))
    bus.emit(DiscoveryProgress(repos=1, packages=2, versions=3, files=40, bytes=4000))
    line = format_line(bus.counters.snapshot())
    assert "listing: 40 files so far" in line
    assert "files 0/40" not in line
    bus.emit(DiscoveryProgress(repos=0, packages=0, versions=0, files=104, bytes=10400,
                               complete=True))  # fmt: skip
    line = format_line(bus.counters.snapshot())
    assert "listing" not in line
    assert "files 0/104" in line


def test_side_phases_show_their_name_and_counts() -> None:
    bus = EventBus()
    bus.emit(PhaseStarted("security"))
    assert format_line(bus.counters.snapshot()) == "[security] starting"
    bus.emit(PhaseProgress("security", 3, 32, "users, groups, permission targets"))
    assert format_line(bus.counters.snapshot()) == (
        "[security] 3/32 users, groups, permission targets"
    )
    bus.emit(PhaseStarted("properties"))
    assert format_line(bus.counters.snapshot()) == "[properties] starting"


def test_active_counts_copies_in_flight() -> None:
    bus = EventBus()
    bus.copy_started()
    bus.copy_started()
    assert bus.counters.snapshot().active == 2
    bus.emit(_finished("a"))
    assert bus.counters.snapshot().active == 1


def test_counters_never_pass_their_totals() -> None:
    bus = EventBus()
    bus.emit(RunStarted(run="default", totals=Totals(1, 10)))
    for path in "abc":
        bus.emit(_finished(path))
    snap = bus.counters.snapshot()
    assert snap.files_done <= snap.files_total
    assert snap.bytes_done <= snap.bytes_total


def test_rates_are_in_the_units_of_caps() -> None:
    # --bandwidth 50MB/s is 50,000,000 bytes a second: shown as such, not as 47.7 MiB/s
    assert format_rate(50_000_000) == "50.0 MB/s"
    assert format_rate(999) == "999 B/s"
    assert format_rate(1_500) == "1.5 kB/s"
