"""The checkpoint store contract: what the pipeline may ask of any store, and the data it trades.

A store holds one or more **runs** (one migration each, by name; ``"default"`` unless told
otherwise). Opening a store joins its run, creating it when absent, so resuming is the normal case.
Per run it keeps the items (one per source file, keyed by ``(repo, path)``), discovery progress,
side-task records, worker heartbeats and free-form meta (such as :data:`META_CONFIG_FINGERPRINT`).

Every item state change is checked against :data:`transfer.models.LEGAL_TRANSITIONS`; a store never
writes an illegal one (it raises :class:`IllegalTransition` instead). The pure decisions shared by
every implementation (what an upsert changes, what a recorded outcome writes) live here too, so that
SQLite and PostgreSQL cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Protocol, Self, runtime_checkable

from transfer.errors import IllegalTransition
from transfer.models import Checksums, ItemState, Rejection, SourceFile, is_legal_transition

__all__ = [
    "EVERYTHING",
    "META_CONFIG_FINGERPRINT",
    "META_LAST_VERIFY",
    "META_TARGET_IDENTITY",
    "REVISION",
    "CheckpointStore",
    "Counts",
    "CurrentState",
    "Item",
    "ItemSpec",
    "Outcome",
    "RecordUpdate",
    "Share",
    "SideRecord",
    "StateCount",
    "UpsertCounts",
    "WorkItem",
    "WorkerInfo",
    "content_changed",
    "decide_record",
    "decide_reset",
]

REVISION: Final = "revision"
"""Key of :attr:`ItemSpec.extra` whose change re-opens an item (see :func:`content_changed`)."""
META_CONFIG_FINGERPRINT = "config_fingerprint"
"""Meta key under which the runner keeps the fingerprint of the configuration a run started with."""
META_TARGET_IDENTITY = "target_identity"
"""Meta key: the target's identity (URL, service id, repository creation times) as JSON."""
META_LAST_VERIFY = "last_verify"
"""Meta key: when the last ``transfer verify`` ran and what it found, as JSON."""


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One file as discovery hands it to the store: the source facts and where it should go.

    ``properties`` are the Artifactory properties to set on the target file (may be empty);
    ``extra`` is any further JSON-serialisable detail the pipeline wants back later. ``phase``
    orders claiming: an item is claimed only once no item of a lower phase is pending or in
    flight (0: any file; higher: files a target computes metadata from, held back until the
    files they describe are in place).
    """

    repo: str
    package: str
    version: str
    path: str
    size: int
    sha1: str = ""
    sha256: str = ""
    published: bool = True
    target_repo: str = ""
    target_path: str = ""
    properties: Mapping[str, Sequence[str]] = field(default_factory=dict, hash=False)
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    phase: int = 0

    @classmethod
    def from_source(
        cls,
        source: SourceFile,
        *,
        target_repo: str,
        target_path: str,
        properties: Mapping[str, Sequence[str]] | None = None,
        phase: int = 0,
    ) -> ItemSpec:
        """The spec for ``source`` going to ``target_repo``/``target_path``."""
        facts = {name: getattr(source, name) for name in _SOURCE_FACTS}
        return cls(
            **facts,
            target_repo=target_repo,
            target_path=target_path,
            properties=dict(properties or {}),
            extra=dict(source.extra),
            phase=phase,
        )

    @property
    def source(self) -> SourceFile:
        """The source half of this spec."""
        facts = {name: getattr(self, name) for name in _SOURCE_FACTS}
        return SourceFile(**facts, extra=dict(self.extra))


_SOURCE_FACTS = ("repo", "package", "version", "path", "size", "sha1", "sha256", "published")
"""The fields an :class:`ItemSpec` shares with the :class:`SourceFile` it was made from."""


def content_changed(old: ItemSpec, new: ItemSpec) -> bool:
    """Whether a re-discovered file needs copying again: its bytes or its destination differ.

    Package, version, published flag, properties and extra are updated in place without re-opening
    the item: they describe the file, they do not change what has to be copied where.  The one
    exception is ``extra["revision"]``, a token a source without checksums (a local directory:
    its modification time) sets so that a file rewritten at the same size is still seen.
    """
    return (old.size, old.sha1, old.sha256, old.target_repo, old.target_path) != (
        new.size,
        new.sha1,
        new.sha256,
        new.target_repo,
        new.target_path,
    ) or old.extra.get(REVISION) != new.extra.get(REVISION)


@dataclass(frozen=True, slots=True)
class Share:
    """Which pending items a claimer takes: those whose id is ``index`` modulo ``of``.

    Several copy processes of one ``migrate`` (``transfer.processes``) each claim their own
    share, so that the first to start does not lease every large file before the others are
    up; the whole run is ``Share(0, 1)`` (:data:`EVERYTHING`). Items whose lease expired are
    claimed by anyone, whatever their share.
    """

    index: int = 0
    of: int = 1

    def __post_init__(self) -> None:
        if self.of < 1 or not 0 <= self.index < self.of:
            raise ValueError(f"share {self.index} of {self.of} does not exist")


EVERYTHING: Final = Share()
"""The share that holds every item."""


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What one :meth:`CheckpointStore.upsert_items` call did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.new + other.new, self.changed + other.changed, self.unchanged + other.unchanged
        )


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A claimed item: the lease is held by the claimer until ``lease_expires``.

    ``recheck`` is true when the item was taken over from an expired lease: its previous owner may
    have sent it (fully or partly), so the target must be checked before anything is re-sent.
    ``written`` holds the target checksums of the copy this migration wrote at the target path on
    an earlier run (kept when the item was re-opened because its source changed), empty when it
    wrote nothing there: the planner overwrites that copy, and only that, as its own.
    """

    id: int
    spec: ItemSpec
    attempts: int
    recheck: bool
    lease_expires: float
    written: Checksums = field(default_factory=Checksums)


@dataclass(frozen=True, slots=True)
class Item:
    """Everything the store knows about one item."""

    id: int
    spec: ItemSpec
    state: ItemState
    attempts: int = 0
    last_error: str = ""
    http_status: int | None = None
    bytes_transferred: int = 0
    how: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    target: Checksums = field(default_factory=Checksums)
    lease_owner: str | None = None
    lease_expires: float | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to an item, as a worker records it.

    ``None`` leaves a column as it was. ``attempts`` sets the count outright; ``add_attempts`` adds
    to it (applied after ``attempts``). ``error`` is the last error, or the reason of a skip.
    ``how`` says how a ``done`` came about: ``streamed``, ``checksum_deploy``, ``already_present``,
    ``dedup``, ``replaced_own_copy`` (the source changed: the copy an earlier run wrote replaced).
    """

    state: ItemState
    attempts: int | None = None
    add_attempts: int = 0
    error: str | None = None
    http_status: int | None = None
    bytes_transferred: int | None = None
    duration: float | None = None
    target: Checksums | None = None
    how: str | None = None


@dataclass(frozen=True, slots=True)
class StateCount:
    """Number of items and their total declared size."""

    items: int = 0
    bytes: int = 0

    def __add__(self, other: StateCount) -> StateCount:
        return StateCount(self.items + other.items, self.bytes + other.bytes)


@dataclass(frozen=True, slots=True)
class Counts:
    """Items and bytes per state, overall and per source repository."""

    by_state: Mapping[ItemState, StateCount]
    by_repo: Mapping[str, Mapping[ItemState, StateCount]]

    def __getitem__(self, state: ItemState) -> StateCount:
        return self.by_state.get(state, StateCount())

    @property
    def total(self) -> StateCount:
        """All items, whatever their state."""
        return sum(self.by_state.values(), StateCount())

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int, int]]) -> Counts:
        """Build from ``(repo, state, items, bytes)`` rows, as a ``GROUP BY`` returns them."""
        by_state = {state: StateCount() for state in ItemState}
        by_repo: dict[str, dict[ItemState, StateCount]] = {}
        for repo, state_name, items, size in rows:
            state = ItemState(state_name)
            count = StateCount(int(items), int(size))
            by_state[state] += count
            per_repo = by_repo.setdefault(repo, {s: StateCount() for s in ItemState})
            per_repo[state] += count
        return cls(by_state=by_state, by_repo=by_repo)


@dataclass(frozen=True, slots=True)
class SideRecord:
    """Progress of one side task (a repository, user, permission target, property set ...)."""

    kind: str
    key: str
    state: str
    detail: Mapping[str, Any]
    updated_at: float


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """The last heartbeat of one worker process, with whatever statistics it chose to report."""

    owner: str
    stats: Mapping[str, Any]
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class CurrentState:
    """The columns of a stored item that deciding on a recorded outcome needs."""

    state: ItemState
    attempts: int
    lease_owner: str | None
    lease_expires: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """The column values one accepted outcome writes (``None`` in optional fields: keep)."""

    state: ItemState
    attempts: int
    lease_owner: str | None
    lease_expires: float | None
    finished_at: float | None
    outcome: Outcome

    def after(self) -> CurrentState:
        """The item as the next outcome for it in the same batch will see it."""
        return CurrentState(
            self.state, self.attempts, self.lease_owner, self.lease_expires, self.finished_at
        )


def decide_record(
    item_id: int, current: CurrentState | None, outcome: Outcome, owner: str | None, now: float
) -> RecordUpdate | Rejection | None:
    """What recording ``outcome`` does to an item in state ``current``.

    Returns the update to write, a :class:`Rejection` (unknown item or illegal transition), or
    ``None`` when ``owner`` is given and no longer holds the item's lease: another claimer took it
    over (or a changed source re-opened it), so this late outcome is stale and dropped.
    """
    if current is None:
        return Rejection(item_id, None, outcome.state, "no such item in this run")
    if owner is not None and (
        current.state is not ItemState.IN_FLIGHT or current.lease_owner != owner
    ):
        return None
    if not is_legal_transition(current.state, outcome.state):
        return Rejection(item_id, current.state, outcome.state, "not a legal transition")
    if outcome.state is ItemState.IN_FLIGHT and current.state is not ItemState.IN_FLIGHT:
        # An in-flight item without a lease would never expire: only a claim sets one.
        return Rejection(item_id, current.state, outcome.state, "only claim_batch leases items")
    attempts = current.attempts if outcome.attempts is None else outcome.attempts
    attempts += outcome.add_attempts
    if outcome.state is ItemState.IN_FLIGHT:
        lease_owner, lease_expires, finished_at = (
            current.lease_owner,
            current.lease_expires,
            current.finished_at,
        )
    else:
        lease_owner, lease_expires = None, None
        finished_at = now if outcome.state.is_final else None
    return RecordUpdate(outcome.state, attempts, lease_owner, lease_expires, finished_at, outcome)


def decide_reset(states: Iterable[ItemState]) -> list[ItemState]:
    """The distinct ``states`` a reset moves back to ``pending``, in order; raises
    :class:`IllegalTransition` if any of them may not go there."""
    wanted = sorted(set(states))
    refused = [
        Rejection(None, state, ItemState.PENDING, "not a legal transition")
        for state in wanted
        if not is_legal_transition(state, ItemState.PENDING)
    ]
    if refused:
        raise IllegalTransition(refused)
    return wanted


@runtime_checkable
class CheckpointStore(Protocol):
    """Durable state of one migration run, shared by every worker of the run.

    Open it with ``async with``; leaving the block flushes recorded outcomes and closes it.
    Calls are safe from many tasks at once. Apart from :meth:`record` (queued, see there), each call
    first waits until this store's queued records are committed, so effects apply in call order.
    """

    @property
    def run(self) -> str:
        """Name of the run this store object is joined to."""
        ...

    @property
    def readonly(self) -> bool:
        """True when opened for reading only; every write then raises :class:`StoreError`."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def get_meta(self, key: str) -> str | None:
        """The run's meta value for ``key``, or ``None``."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Set the run's meta value for ``key``."""
        ...

    async def mark_discovered(self, scope: str) -> None:
        """Remember that discovery finished ``scope`` (e.g. ``"repo/pkg/version"``)."""
        ...

    async def is_discovered(self, scope: str) -> bool:
        """Whether :meth:`mark_discovered` was called for ``scope`` (and not cleared since)."""
        ...

    async def clear_discovered(self) -> int:
        """Forget all discovered scopes (to start a fresh, incremental pass); returns how many."""
        ...

    async def upsert_items(self, items: Sequence[ItemSpec]) -> UpsertCounts:
        """Add or refresh discovered items, keyed by ``(repo, path)``; later duplicates win.

        New items start ``pending``. An item whose :func:`content_changed` is re-opened to
        ``pending`` with its outcome columns cleared. Otherwise only descriptive columns are
        refreshed and the state is left alone.
        """
        ...

    async def claim_batch(
        self, owner: str, limit: int, lease_seconds: float, *, share: Share = EVERYTHING
    ) -> list[WorkItem]:
        """Atomically lease up to ``limit`` items to ``owner``, in id (discovery) order.

        Takes ``in_flight`` items whose lease has expired (those come back with
        ``recheck=True``) and ``pending`` items of ``share`` of the lowest pending ``phase``,
        unless an item of a lower phase is still in flight; no two claimers, in any process,
        ever get the same item.
        """
        ...

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend every lease ``owner`` holds to now + ``lease_seconds``; returns how many."""
        ...

    async def release(self, owner: str) -> int:
        """Put ``owner``'s in-flight items back to ``pending`` (clean stop); returns how many."""
        ...

    async def outstanding(self, owner: str) -> bool:
        """Whether any item is pending, or in flight under a lease not held by ``owner`` —
        i.e. whether ``owner`` may still find work. Cheap (index probes): an idle claimer
        asks it every fraction of a second."""
        ...

    async def lease_owners(self) -> list[str]:
        """Every owner holding a lease on an in-flight item, by name: the workers that have
        claimed work, whether or not they have heartbeated yet."""
        ...

    async def expire_leases(self, owner: str) -> int:
        """Expire every lease ``owner`` holds, now: the owner is known to be dead (its process
        is gone), so its items need not wait for the lease to run out. They are claimed next
        with ``recheck=True``. Returns how many."""
        ...

    async def record(self, item_id: int, outcome: Outcome, *, owner: str | None = None) -> None:
        """Queue ``outcome`` for ``item_id``; cheap, it returns once queued.

        A single writer commits queued outcomes in batches; :meth:`flush` waits for them. With
        ``owner``, the outcome is dropped if ``owner`` no longer holds the lease. Raises errors
        found in earlier batches (:class:`IllegalTransition`, :class:`StoreError`).
        """
        ...

    async def flush(self) -> None:
        """Wait until everything recorded so far is durable; raise what the writer found."""
        ...

    async def reset(self, states: Iterable[ItemState]) -> int:
        """Move every item in ``states`` back to ``pending`` (``--retry-failed``); returns how many.

        Raises :class:`IllegalTransition` (writing nothing) if a state may not go to ``pending``.
        """
        ...

    async def counts(self) -> Counts:
        """Items and declared bytes per state, overall and per repository."""
        ...

    def iter_items(
        self,
        *,
        states: Iterable[ItemState] | None = None,
        repo: str | None = None,
        batch: int = 500,
    ) -> AsyncIterator[Item]:
        """Stream items in id order, ``batch`` rows per query, optionally filtered."""
        ...

    async def get_item(self, repo: str, path: str) -> Item | None:
        """The item at ``(repo, path)``, or ``None``."""
        ...

    async def record_side(self, kind: str, key: str, state: str, detail: Mapping[str, Any]) -> None:
        """Insert or replace the side-task record ``(kind, key)``."""
        ...

    def iter_side(self, kind: str | None = None) -> AsyncIterator[SideRecord]:
        """Stream side-task records (of one ``kind``, or all), ordered by kind then key."""
        ...

    async def get_side(self, kind: str, key: str) -> SideRecord | None:
        """The side-task record ``(kind, key)``, or ``None``."""
        ...

    async def heartbeat_worker(self, owner: str, stats: Mapping[str, Any]) -> None:
        """Record that worker ``owner`` is alive now, with its current statistics."""
        ...

    async def list_workers(self) -> list[WorkerInfo]:
        """Every worker that ever heartbeated in this run, by owner name."""
        ...

    def exclusive(self, name: str, *, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """A lock named ``name`` in this run, held for the ``async with`` block.

        The block gets ``True`` once the lock is held. With ``wait=False`` it gets ``False`` at
        once when another holder has it (and then holds nothing). A store shared by processes
        on several machines (PostgreSQL) makes the lock exclusive across all of them, and frees
        it when its holder dies; a single-machine store (SQLite) may make it exclusive within
        one process only. Locks of different runs, or different names, never contend.
        """
        ...
