"""Progress as events: the engine says what happened, the edge decides how to show it (STYLE #11).

The engine owns one :class:`EventBus` and calls :meth:`EventBus.emit` with small frozen
events. Subscribers are plain synchronous callables (a rich progress display, a structlog
JSON-lines writer, a test's list); :meth:`~EventBus.emit` never awaits or blocks, so a slow
terminal cannot stall a copy worker — a subscriber that must do I/O should hand off.

High-rate progress is *coalesced*, not evented. A pipeline moving 10,000 files a second reads
many chunks a second; one event per chunk would cost an allocation and a fan-out each, for
a display that refreshes a few times a second. So byte progress goes through
:meth:`EventBus.add_bytes`, which only bumps :attr:`EventBus.counters` (a
:class:`ProgressCounters`, updated in place); renderers *poll* ``counters.snapshot()`` on
their own timer. A :class:`BytesMoved` event is built only when someone subscribed to that
type explicitly. Every other event also updates the counters, so a poller never needs events
at all. With no subscribers ``emit`` costs a dict lookup and the counter update.

Everything here runs on the event loop's thread; it is not thread-safe.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from transfer.models import ItemState

__all__ = [
    "BytesMoved",
    "CopiedElsewhere",
    "DiscoveryProgress",
    "Event",
    "EventBus",
    "ItemFinished",
    "PhaseFinished",
    "PhaseProgress",
    "PhaseStarted",
    "ProgressCounters",
    "ProgressSnapshot",
    "Retrying",
    "RunStarted",
    "StoreOutage",
    "Subscriber",
    "ThrottleChanged",
    "Totals",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every progress event; ``kind`` names it in logs (``item_finished``)."""

    kind: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        """The event as plain data for a JSON log line, ``kind`` included; durations and
        delays in seconds rounded to milliseconds (no false precision)."""
        fields = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}
        return {"kind": self.kind, **fields}


@dataclass(frozen=True, slots=True)
class Totals:
    """A count of files and of their bytes."""

    files: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """A run begins (or resumes): what the store knows of, and how much of it is already done."""

    kind: ClassVar[str] = "run_started"
    run: str
    totals: Totals
    already_done: Totals = field(default_factory=Totals)


@dataclass(frozen=True, slots=True)
class PhaseStarted(Event):
    """A phase (``discover``, ``repositories``, ``security``, ``files``, …) begins."""

    kind: ClassVar[str] = "phase_started"
    name: str


@dataclass(frozen=True, slots=True)
class PhaseFinished(Event):
    """A phase ends; ``summary`` holds its counts (created, skipped, failed, …)."""

    kind: ClassVar[str] = "phase_finished"
    name: str
    summary: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PhaseProgress(Event):
    """A side phase got ``done`` of its ``total`` steps (``total`` 0: not known) of ``what``
    (``"users, groups and permission targets"``)."""

    kind: ClassVar[str] = "phase_progress"
    name: str
    done: int
    total: int = 0
    what: str = ""


@dataclass(frozen=True, slots=True)
class DiscoveryProgress(Event):
    """Running totals of what discovery has found so far (cumulative, not increments);
    ``complete`` once the whole source is listed (totals are then the run's)."""

    kind: ClassVar[str] = "discovery_progress"
    repos: int
    packages: int
    versions: int
    files: int
    bytes: int
    complete: bool = False


@dataclass(frozen=True, slots=True)
class BytesMoved(Event):
    """``n`` more bytes reached the target. Normally coalesced: see :meth:`EventBus.add_bytes`."""

    kind: ClassVar[str] = "bytes_moved"
    n: int


@dataclass(frozen=True, slots=True)
class CopiedElsewhere(Event):
    """Another copy process of this ``migrate`` finished ``files`` more files (of ``bytes``
    bytes) and sent ``moved`` more bytes since its last report (``transfer.processes``)."""

    kind: ClassVar[str] = "copied_elsewhere"
    files: int
    bytes: int
    moved: int
    process: int = 0


@dataclass(frozen=True, slots=True)
class ItemFinished(Event):
    """A copy worker recorded an outcome for one file (a final state, or ``pending`` when a
    stop released it unfinished).

    ``how`` says how a ``done`` came about: ``streamed``, ``checksum_deploy``, ``dedup`` (linked
    to a copy this run made), ``already_present`` or ``replaced_own_copy`` (the source changed
    since an earlier run, whose copy was replaced); it is empty for every other state.
    ``bytes`` is the file's declared size (what a final state adds to the done bytes; the bytes
    actually sent are counted by :meth:`EventBus.add_bytes`); ``duration`` is in seconds.
    """

    kind: ClassVar[str] = "item_finished"
    repo: str
    path: str
    state: ItemState
    how: str
    bytes: int
    duration: float
    error: str = ""


@dataclass(frozen=True, slots=True)
class Retrying(Event):
    """Try ``attempt`` failed for ``reason``; the next comes after ``delay`` seconds."""

    kind: ClassVar[str] = "retrying"
    attempt: int
    delay: float
    reason: str
    path: str = ""


@dataclass(frozen=True, slots=True)
class StoreOutage(Event):
    """The checkpoint store went away mid-run (workers pause and reconnect), or came back."""

    kind: ClassVar[str] = "store_outage"
    message: str


@dataclass(frozen=True, slots=True)
class ThrottleChanged(Event):
    """The bandwidth limit in effect changed (bytes/s; ``None`` means unlimited)."""

    kind: ClassVar[str] = "throttle_changed"
    limit: int | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """An immutable copy of :class:`ProgressCounters` at one instant, for rendering."""

    files_total: int
    bytes_total: int
    files_done: int
    bytes_done: int
    bytes_moved: int
    retries: int
    by_state: Mapping[str, int]
    discovered: Totals
    phase: str
    elapsed: float
    listing_complete: bool = True
    phase_done: int = 0
    phase_total: int = 0
    phase_what: str = ""
    active: int = 0


class ProgressCounters:
    """Aggregated progress, updated in place by the bus; renderers poll :meth:`snapshot`.

    ``bytes_moved`` counts bytes sent over the wire as they go (from :meth:`EventBus.add_bytes`);
    ``bytes_done`` counts the sizes of files that reached a final state. ``files_total`` /
    ``bytes_total`` start from :class:`RunStarted` and grow with discovery.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started_at = clock()
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.bytes_moved = 0
        self.active = 0  # copies in flight: EventBus.copy_started up, ItemFinished down
        self.retries = 0
        self.by_state: Counter[str] = Counter()
        self.discovered = Totals()
        self.phase = ""
        self.listing_complete = True  # until a run's artifacts phase starts listing
        self.phase_done = 0
        self.phase_total = 0
        self.phase_what = ""

    def apply(self, event: Event) -> None:
        """Fold one event into the counters."""
        match event:
            case ItemFinished(state=state):
                self.active = max(0, self.active - 1)
                self.by_state[str(state)] += 1
                if state.is_final:
                    self.files_done += 1
                    self.bytes_done += event.bytes
            case CopiedElsewhere(files=files, bytes=size, moved=moved):
                self.files_done += files
                self.bytes_done += size
                self.bytes_moved += moved
            case Retrying():
                self.retries += 1
            case BytesMoved(n=n):
                self.bytes_moved += n
            case DiscoveryProgress(files=files, bytes=size, complete=complete):
                self.discovered = Totals(files, size)
                self.files_total = max(self.files_total, files)
                self.bytes_total = max(self.bytes_total, size)
                self.listing_complete = complete
            case RunStarted(totals=totals, already_done=done):
                self.started_at = self._clock()
                self.files_total, self.bytes_total = totals.files, totals.bytes
                self.files_done, self.bytes_done = done.files, done.bytes
                self.listing_complete = False
            case PhaseStarted(name=name):
                self.phase = name
                self.phase_done = self.phase_total = 0
                self.phase_what = ""
            case PhaseProgress(done=done_steps, total=total_steps, what=what):
                self.phase_done, self.phase_total, self.phase_what = done_steps, total_steps, what
            case _:
                pass

    def snapshot(self) -> ProgressSnapshot:
        """A consistent copy to render (cheap: a dozen attributes)."""
        return ProgressSnapshot(
            # counters never pass their totals (a total still growing catches up)
            files_total=max(self.files_total, self.files_done),
            bytes_total=max(self.bytes_total, self.bytes_done),
            files_done=self.files_done,
            bytes_done=self.bytes_done,
            bytes_moved=self.bytes_moved,
            retries=self.retries,
            by_state=dict(self.by_state),
            discovered=self.discovered,
            phase=self.phase,
            elapsed=self._clock() - self.started_at,
            listing_complete=self.listing_complete,
            phase_done=self.phase_done,
            phase_total=self.phase_total,
            phase_what=self.phase_what,
            active=self.active,
        )


Subscriber = Callable[[Event], None]
"""Receives each event synchronously; must return quickly and not raise."""


class EventBus:
    """Fans events out to subscribers and keeps :attr:`counters` up to date.

    A subscriber that raises is removed (so a broken display cannot stop a migration) and
    the exception kept in :attr:`failures` for the edge to report.
    """

    def __init__(self, counters: ProgressCounters | None = None) -> None:
        self.counters = counters if counters is not None else ProgressCounters()
        self.failures: list[BaseException] = []
        self._all: list[Subscriber] = []
        self._by_type: dict[type[Event], list[Subscriber]] = {}

    def subscribe(self, subscriber: Subscriber, *types: type[Event]) -> Callable[[], None]:
        """Call ``subscriber`` for every event, or only for events of ``types``.

        :class:`BytesMoved` is delivered only to subscribers that name it in ``types``.
        Returns a function that unsubscribes.
        """
        targets = [self._by_type.setdefault(t, []) for t in types] if types else [self._all]
        for target in targets:
            target.append(subscriber)

        def unsubscribe() -> None:
            for target in targets:
                if subscriber in target:
                    target.remove(subscriber)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Update the counters and hand ``event`` to its subscribers; never blocks."""
        self.counters.apply(event)
        typed = self._by_type.get(type(event))
        if typed:
            self._deliver(typed, event)
        if self._all and type(event) is not BytesMoved:
            self._deliver(self._all, event)

    def copy_started(self) -> None:
        """One more copy in flight (the :class:`ItemFinished` that ends it counts it down)."""
        self.counters.active += 1

    def add_bytes(self, n: int) -> None:
        """Record ``n`` bytes sent: the per-chunk fast path, no event unless subscribed."""
        if self._by_type.get(BytesMoved):
            self.emit(BytesMoved(n))
        else:
            self.counters.bytes_moved += n

    def _deliver(self, subscribers: list[Subscriber], event: Event) -> None:
        for subscriber in tuple(subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # a display bug must not stop the migration
                subscribers.remove(subscriber)
                self.failures.append(exc)
