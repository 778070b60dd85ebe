"""Use cases: plan, migrate, status, verify — built from settings, used by the CLI and library.

This layer builds the clients and the store from :class:`~transfer.settings.Settings`, runs
the phases, and returns plain summaries. It prints nothing: progress goes out as events on the
:class:`~transfer.reporting.events.EventBus` the caller passes in.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from transfer.checkpoint.base import (
    META_CONFIG_FINGERPRINT,
    CheckpointStore,
    Counts,
    Item,
    Outcome,
    WorkerInfo,
    WorkItem,
)
from transfer.checkpoint.sqlite import SqliteStore
from transfer.errors import ConfigError, TransferError
from transfer.http.client import Timeouts as HttpTimeouts
from transfer.http.pacing import AdaptiveLimiter
from transfer.http.retry import RetryPolicy
from transfer.migrate.metadata import BOOKKEEPING_KINDS, MetadataMapper, apply_properties
from transfer.migrate.properties import PROPERTY_RULES
from transfer.migrate.repositories_phase import (
    blocked_repositories,
    created_repositories,
    preview_repositories,
    run_repositories_phase,
)
from transfer.migrate.security import (  # issue 5
    OrganisationSource,
    SecurityPlan,
    plan_security,
    read_org_snapshot,
)
from transfer.migrate.security_phase import run_security_phase  # issue 5
from transfer.migrate.signed_urls import (  # issue 5
    SignedUrl,
    sign_urls,
    write_signed_url_map,
)
from transfer.migrate.urlmap import URL_MAP_NAME, write_url_map  # issue 5
from transfer.models import Checksums, ItemState
from transfer.pipeline.audit import AuditResult, audit
from transfer.pipeline.bandwidth import BandwidthLimiter
from transfer.pipeline.coordination import discover_shared, phase_lock  # issue 8
from transfer.pipeline.copy import CopyOptions, CopyWorker
from transfer.pipeline.discover import DiscoveryResult, discover
from transfer.pipeline.engine import EngineOptions, StopControl, run_artifacts
from transfer.pipeline.planner import (
    Action,
    ConflictPolicy,
    Decision,
    TargetFacts,
    decide,
)
from transfer.reporting.events import (
    DiscoveryProgress,
    EventBus,
    ItemFinished,
    PhaseFinished,
    PhaseStarted,
    Retrying,
    RunStarted,
    ThrottleChanged,
    Totals,
)
from transfer.reporting.report import ReportPaths, write_report
from transfer.settings import Settings, Timeouts
from transfer.sources.base import Source
from transfer.sources.bintray import BintraySource
from transfer.targets.artifactory import ArtifactoryTarget
from transfer.targets.base import Target

__all__ = [
    "PHASES",
    "MigrationSummary",
    "migrate",
    "open_source",
    "open_store",
    "open_target",
    "store_counts",
]

PHASES = ("repositories", "security", "artifacts", "properties")


def _http_timeouts(timeouts: Timeouts) -> HttpTimeouts:
    return HttpTimeouts(connect=timeouts.connect, sock_read=timeouts.read)


def _retry_policy(settings: Settings) -> RetryPolicy:
    t = settings.transfer
    return RetryPolicy(
        max_attempts=t.max_attempts, base_delay=t.backoff_base, max_delay=t.backoff_max
    )


def open_source(settings: Settings) -> Source:
    """The configured source client (not yet opened: use ``async with``)."""
    s = settings.source
    # --- issue 6: plain HTTP source (transfer.sources.http_index) ---
    if s.type == "http":
        from transfer.sources.http_index import HttpIndexSource

        return HttpIndexSource.from_settings(settings)
    # --- end issue 6 ---
    return BintraySource(
        s.api_url,
        s.download_url,
        s.subject,
        s.login,
        s.api_key,
        page_size=s.page_size,
        include_unpublished=s.include_unpublished,
        repos=s.repos,
        exclude_repos=s.exclude_repos,
        packages=s.packages,
        versions=s.versions,
        timeouts=_http_timeouts(s.timeouts),
        retry_policy=_retry_policy(settings),
    )


def open_target(settings: Settings) -> Target:
    """The configured target client (not yet opened: use ``async with``)."""
    t = settings.target
    if t.type == "webdav":
        from transfer.targets.webdav import WebDavTarget

        # issue 6: as many connections as workers can use, and the run's retry policy
        return WebDavTarget(
            t.url,
            t.user,
            t.password,
            timeouts=_http_timeouts(t.timeouts),
            verify_tls=t.verify_tls,
            retry_policy=_retry_policy(settings),
            max_connections=max(16, settings.transfer.workers * 2),
        )
    return ArtifactoryTarget(
        t.url,
        t.user,
        password=t.password,
        token=t.token,
        api_key=t.api_key,
        timeouts=_http_timeouts(t.timeouts),
        verify_tls=t.verify_tls,
        ca_bundle=str(t.ca_bundle) if t.ca_bundle else None,
        retry_policy=_retry_policy(settings),
        max_connections=max(16, settings.transfer.workers * 2),
    )


def open_store(settings: Settings, *, readonly: bool = False) -> CheckpointStore:
    """The configured checkpoint store (not yet opened: use ``async with``)."""
    s = settings.store
    # --- issue 8: PostgreSQL store (transfer.checkpoint.postgres) ---
    if s.backend == "postgres" and s.url is not None:
        try:
            from transfer.checkpoint.postgres import PostgresStore
        except ImportError:
            raise ConfigError(
                "store.url needs the PostgreSQL driver: pip install 'transfer[postgres]'"
            ) from None
        return PostgresStore(s.url, run=s.run, password=s.password, readonly=readonly)
    # --- end issue 8 ---
    if readonly:
        if not s.path.exists():
            raise ConfigError(f"no migration state at {s.path}: run `transfer migrate` first")
        return SqliteStore.open_readonly(s.path, run=s.run)
    return SqliteStore(s.path, run=s.run)


async def store_counts(settings: Settings) -> Counts:
    """Item counts of the configured run, read without disturbing a running migration."""
    return (await status(settings)).counts


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A run as ``transfer status`` shows it: counts, and every worker's last heartbeat."""

    counts: Counts
    workers: list[WorkerInfo]
    live_within: float = 300.0  # issue 8: a worker heard from this recently is alive

    # --- issue 8: each worker's share and the whole run's rate ---
    def worker_rows(self, now: float) -> list[dict[str, Any]]:
        """Per worker: its statistics, whether it is alive (heard from lately and not
        finished), and its share of the files finished and bytes moved by all the run's
        workers (0..1)."""
        files = [float(w.stats.get("files_finished", 0) or 0) for w in self.workers]
        moved = [float(w.stats.get("bytes_moved", 0) or 0) for w in self.workers]
        return [
            {
                "owner": w.owner,
                "seconds_since_heartbeat": round(now - w.last_seen, 1),
                "alive": self._alive(w, now),
                **dict(w.stats),
                "share_files": round(f / sum(files), 3) if sum(files) else 0.0,
                "share_bytes": round(b / sum(moved), 3) if sum(moved) else 0.0,
            }
            for w, f, b in zip(self.workers, files, moved, strict=True)
        ]

    def rate(self, now: float) -> float:
        """Bytes per second of the whole run: the sum over the workers alive now."""
        return sum(
            float(w.stats.get("bytes_per_second", 0) or 0)
            for w in self.workers
            if self._alive(w, now)
        )

    def _alive(self, worker: WorkerInfo, now: float) -> bool:
        return now - worker.last_seen <= self.live_within and not worker.stats.get("finished")

    # --- end issue 8 ---

    def as_dict(self, now: float) -> dict[str, Any]:
        """A JSON-ready form; ``now`` dates the workers' heartbeats."""
        c = self.counts
        return {
            "items": {s.value: {"items": c[s].items, "bytes": c[s].bytes} for s in ItemState},
            "repositories": {
                repo: {s.value: per[s].items for s in ItemState}
                for repo, per in sorted(c.by_repo.items())
            },
            "workers": self.worker_rows(now),
            "bytes_per_second": self.rate(now),  # issue 8
        }


async def status(settings: Settings) -> RunStatus:
    """The configured run's counts and workers, read without disturbing a running migration."""
    async with open_store(settings, readonly=True) as store:
        return RunStatus(
            await store.counts(),
            await store.list_workers(),
            live_within=settings.transfer.lease_seconds,  # issue 8
        )


@dataclass(slots=True)
class MigrationSummary:
    """How a ``migrate`` ended."""

    counts: Counts | None = None
    discovery: DiscoveryResult | None = None
    stopped: str = ""
    phases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> int:
        """Items that are neither done nor skipped."""
        if self.counts is None:
            return 0
        return sum(
            self.counts[s].items for s in (ItemState.FAILED, ItemState.CONFLICT, ItemState.PENDING)
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        by_state = {}
        if self.counts is not None:
            by_state = {
                s.value: {"items": self.counts[s].items, "bytes": self.counts[s].bytes}
                for s in ItemState
            }
        return {
            "phases": self.phases,
            "stopped": self.stopped,
            "items": by_state,
            "notes": self.notes,
        }


class _BusObserver:
    """Turns copy-worker callbacks into events on the bus."""

    def __init__(self, bus: EventBus, owner: str) -> None:
        self._bus = bus
        self._owner = owner
        self._finished = 0  # issue 8: files this worker finished (its share in `status`)

    def bytes_moved(self, n: int) -> None:
        self._bus.add_bytes(n)

    def retrying(self, item: WorkItem, attempt: int, delay: float, error: TransferError) -> None:
        self._bus.emit(
            Retrying(path=item.spec.path, attempt=attempt, delay=delay, reason=str(error))
        )

    def throttled(self, limit: int) -> None:
        self._bus.emit(ThrottleChanged(limit=limit))

    def item_finished(self, item: WorkItem, outcome: Outcome) -> None:
        self._finished += outcome.state.is_final  # issue 8
        self._bus.emit(
            ItemFinished(
                repo=item.spec.repo,
                path=item.spec.path,
                state=outcome.state,
                how=outcome.how or "",
                bytes=item.spec.size,
                duration=outcome.duration or 0.0,
                error=outcome.error or "",
            )
        )

    def heartbeat_stats(self) -> dict[str, float | int]:
        snap = self._bus.counters.snapshot()
        rate = snap.bytes_moved / snap.elapsed if snap.elapsed > 0 else 0.0
        return {
            "files_done": snap.files_done,
            "files_finished": self._finished,  # issue 8: by this worker alone
            "bytes_moved": snap.bytes_moved,
            "bytes_per_second": rate,
            "retries": snap.retries,
            "pid": os.getpid(),
        }


def worker_id() -> str:
    """A name for this process in leases and in ``transfer status``: host, pid, nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def reap_dead_workers(store: CheckpointStore) -> int:
    """Expire the leases of workers on this host whose process is gone (a killed run), so
    their items are re-checked and resumed now rather than when the leases run out.

    Workers on other hosts are left to their lease expiry: we cannot see their processes.
    """
    here, reaped = socket.gethostname(), 0
    for worker in await store.list_workers():
        host, _, rest = worker.owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != here or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        if not _process_alive(int(pid_text)):
            reaped += await store.expire_leases(worker.owner)
    return reaped


@asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[tuple[Source, Target, CheckpointStore]]:
    async with (
        open_store(settings) as store,
        open_source(settings) as source,
        open_target(settings) as target,
    ):
        yield source, target, store


async def migrate(
    settings: Settings,
    *,
    bus: EventBus,
    stop: StopControl,
    phases: Sequence[str] = PHASES,
    retry_failed: bool = False,
) -> MigrationSummary:
    """Run the migration phases in order; resumes whatever the store says is unfinished."""
    summary = MigrationSummary()
    owner = worker_id()
    async with _opened(settings) as (source, target, store):
        info = await target.check_access()
        summary.notes.append(f"target: {info.product} {info.version}")
        fingerprint = settings.fingerprint()
        previous = await store.get_meta(META_CONFIG_FINGERPRINT)
        if previous and previous != fingerprint:
            summary.notes.append("the configuration changed since this run started")
        await store.set_meta(META_CONFIG_FINGERPRINT, fingerprint)
        if retry_failed:
            reopened = await store.reset([ItemState.FAILED, ItemState.CONFLICT])
            summary.notes.append(f"re-opened {reopened} failed or conflicting items")
        # --- issue 4: repositories phase (transfer.migrate.repositories_phase) ---
        if "repositories" in phases and not stop.requested():
            summary.phases.append("repositories")
            async with phase_lock(store, "repositories"):  # issue 8: one worker at a time
                if isinstance(target, ArtifactoryTarget):
                    repositories = await run_repositories_phase(
                        source,
                        target.admin,
                        store,
                        subject=settings.source.subject,
                        repo_key_template=settings.target.repo_key_template,
                        bus=bus,
                    )
                    summary.notes.append(repositories.note())
                else:
                    summary.notes.append("repositories: skipped (the target has no repositories)")
        # --- end issue 4 ---
        # --- issue 5: security phase (transfer.migrate.security_phase) ---
        if "security" in phases and not stop.requested():
            summary.phases.append("security")
            async with phase_lock(store, "security"):  # issue 8: one worker at a time
                if isinstance(target, ArtifactoryTarget) and isinstance(source, OrganisationSource):
                    security = await run_security_phase(
                        source, target.admin, store, settings=settings, bus=bus
                    )
                    summary.notes.append(security.note())
                else:
                    summary.notes.append("security: skipped (the source or target has no users)")
        # --- end issue 5 ---
        reaped = await reap_dead_workers(store)
        if reaped:
            summary.notes.append(f"resumed {reaped} files a stopped run had in flight")
        if "artifacts" in phases and not stop.requested():
            summary.phases.append("artifacts")
            summary.discovery = await _artifacts(settings, source, target, store, bus, stop, owner)
        # --- issue 4: properties phase (transfer.migrate.metadata) ---
        if "properties" in phases and not stop.requested():
            summary.phases.append("properties")
            async with phase_lock(store, "properties"):  # issue 8: one worker at a time
                applied = await apply_properties(
                    store, target, everything="artifacts" not in phases, bus=bus
                )
                summary.notes.append(applied.note())
        # --- end issue 4 ---
        # --- issue 5: the old → new URL map of the migrated files (transfer.migrate.urlmap) ---
        if "artifacts" in phases:
            url_map = await write_url_map(
                store,
                settings.report.output_dir / URL_MAP_NAME,
                download_url=settings.source.download_url,
                subject=settings.source.subject,
                target_url=settings.target.url,
            )
            summary.notes.append(f"URL map: {url_map.rows} migrated files in {url_map.path}")
        # --- end issue 5 ---
        summary.counts = await store.counts()
    summary.stopped = stop.reason
    return summary


async def _artifacts(
    settings: Settings,
    source: Source,
    target: Target,
    store: CheckpointStore,
    bus: EventBus,
    stop: StopControl,
    owner: str,
) -> DiscoveryResult:
    t = settings.transfer
    bus.emit(PhaseStarted(name="artifacts"))
    known = await store.counts()
    done = known[ItemState.DONE] + known[ItemState.SKIPPED]
    bus.emit(
        RunStarted(
            run=store.run,
            totals=Totals(known.total.items, known.total.bytes),
            already_done=Totals(done.items, done.bytes),
        )
    )
    observer = _BusObserver(bus, owner)
    result = DiscoveryResult()

    async def on_progress(found: DiscoveryResult) -> None:
        bus.emit(
            DiscoveryProgress(
                repos=found.repositories,
                packages=found.packages,
                versions=found.versions,
                files=found.files,
                bytes=found.bytes,
            )
        )

    # issue 4: properties computed at discovery ride on the deploy; nothing is copied into a
    # repository key the repositories phase found taken by an incompatible repository
    mapper = (
        MetadataMapper(
            source, store, file_attributes=settings.source.file_attributes, concurrency=8
        )
        if target.capabilities.properties
        else None
    )
    blocked = await blocked_repositories(store)

    async def run_discovery() -> None:
        nonlocal result
        result = await discover(
            source,
            store,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
            properties=mapper,
            skip_repos=blocked,
            on_progress=on_progress,
        )
        if mapper is not None:
            await mapper.flush()

    # issue 4: repositories this migration created (recorded by the repositories phase)
    created_repos = await created_repositories(store)
    worker = CopyWorker(
        source,
        target,
        options=CopyOptions(
            conflict_policy=ConflictPolicy(settings.target.conflict),
            min_checksum_deploy_size=settings.target.min_checksum_deploy_size,
            chunk_size=t.chunk_size,
            retry=_retry_policy(settings),
        ),
        limiter=AdaptiveLimiter(t.workers),
        bandwidth=BandwidthLimiter(t.bandwidth_limit),
        observer=observer,
        must_probe=lambda repo: repo not in created_repos,
        rng=random.Random(),
    )
    await run_artifacts(
        store=store,
        worker=worker,
        options=EngineOptions(
            owner=owner,
            workers=t.workers,
            queue_size=t.queue_size or 2 * t.workers,
            claim_batch=t.claim_batch,
            lease_seconds=t.lease_seconds,
            max_transfer=t.max_transfer,
            max_duration=t.max_duration,
        ),
        observer=observer,
        stop=stop,
        # issue 8: one discoverer per run; the others claim what it writes
        discovery=lambda: discover_shared(
            store,
            run_discovery,
            owner=owner,
            live_within=t.lease_seconds if settings.store.backend == "postgres" else None,
        ),
        bytes_moved=lambda: bus.counters.bytes_moved,
    )
    # issue 8: this worker's final figures for `transfer status` (heartbeats are minutes apart)
    await store.heartbeat_worker(owner, {**observer.heartbeat_stats(), "finished": True})
    counts = await store.counts()
    bus.emit(
        PhaseFinished(
            name="artifacts",
            summary={s.value: counts[s].items for s in ItemState},
        )
    )
    return result


@dataclass(slots=True)
class PlanSummary:
    """What a migration would do with the files, decided by the same planner as ``migrate``."""

    discovery: DiscoveryResult | None = None
    actions: dict[str, dict[str, int]] = field(default_factory=dict)
    bytes_to_send: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)
    repositories: dict[str, Any] = field(default_factory=dict)
    property_rules: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        found = self.discovery
        return {
            "files": found.files if found else 0,
            "bytes": found.bytes if found else 0,
            "repositories": found.repositories if found else 0,
            "unmappable_repositories": found.unmappable_repos if found else {},
            "actions": self.actions,
            "bytes_to_send": self.bytes_to_send,
            "examples": self.examples,
            "repository_plan": self.repositories,
            "property_rules": self.property_rules,
        }


def _plan_verdict(decision: Decision) -> str:
    if decision.action is Action.RECORD:
        state = decision.state.value if decision.state else "failed"
        return "unsafe_path" if "unsafe path" in decision.reason else state
    return {
        Action.MARK_DONE: "already_present",
        Action.TRY_CHECKSUM_DEPLOY: "copy_or_link",
        Action.STREAM: "copy",
    }[decision.action]


async def plan(settings: Settings, *, bus: EventBus, probe_concurrency: int = 16) -> PlanSummary:
    """Discover the source (recording it in the store) and decide every pending file against
    what the target holds, without writing anything to the target."""
    summary = PlanSummary()
    async with _opened(settings) as (source, target, store):
        await target.check_access()
        bus.emit(PhaseStarted(name="plan"))
        if isinstance(target, ArtifactoryTarget):
            preview = await preview_repositories(
                source,
                target.admin,
                subject=settings.source.subject,
                repo_key_template=settings.target.repo_key_template,
            )
            summary.repositories = preview.as_dict()
        summary.property_rules = [
            {"source": r.source, "key": r.key, "note": r.note} for r in PROPERTY_RULES
        ]
        summary.discovery = await discover(
            source,
            store,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
        )
        policy = ConflictPolicy(settings.target.conflict)
        slots = anyio.Semaphore(probe_concurrency)  # also bounds the tasks alive at once

        async def decide_one(item: Item) -> None:
            spec = item.spec
            try:
                found = await target.probe(spec.target_repo, spec.target_path)
            finally:
                slots.release()
            facts = TargetFacts(
                exists=found is not None,
                size=found.size if found else None,
                checksums=found.checksums if found else Checksums(),
            )
            verdict = _plan_verdict(
                decide(
                    path=spec.target_path,
                    declared=Checksums(sha1=spec.sha1, sha256=spec.sha256),
                    size=spec.size,
                    target=facts,
                    policy=policy,
                    min_checksum_deploy_size=settings.target.min_checksum_deploy_size,
                )
            )
            per_repo = summary.actions.setdefault(spec.repo, {})
            per_repo[verdict] = per_repo.get(verdict, 0) + 1
            if verdict in ("copy", "copy_or_link"):
                summary.bytes_to_send += spec.size
            elif verdict not in ("already_present",):
                shown = summary.examples.setdefault(verdict, [])
                if len(shown) < 10:
                    shown.append(f"{spec.repo}/{spec.path}")

        async with anyio.create_task_group() as group:
            async for item in store.iter_items(states=[ItemState.PENDING, ItemState.FAILED]):
                await slots.acquire()
                group.start_soon(decide_one, item)
    return summary


async def verify(settings: Settings, *, out_dir: Path | None = None) -> AuditResult:
    """Audit the target against a fresh source listing; details go to ``verify.csv``."""
    target_dir = out_dir or settings.report.output_dir
    async with open_source(settings) as source, open_target(settings) as target:
        if not hasattr(target, "list_files"):
            raise ConfigError(
                f"`transfer verify` needs an Artifactory target, not {settings.target.type}"
            )
        return await audit(
            source,
            target,  # type: ignore[arg-type]
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
            work_dir=target_dir,
        )


async def report(settings: Settings, *, out_dir: Path | None = None) -> ReportPaths:
    """Write the migration report from the store (readable while a run is going)."""
    async with open_store(settings, readonly=True) as store:
        return await write_report(
            store, out_dir or settings.report.output_dir, skip_kinds=BOOKKEEPING_KINDS
        )


# --- issue 5: security plan and signed URLs (transfer.migrate.security, .signed_urls) ---


async def security_plan(settings: Settings) -> SecurityPlan:
    """The users, groups, permission targets and tokens a migration would create (read from
    the source only; no secret is generated and nothing is written)."""
    async with open_source(settings) as source:
        if not isinstance(source, OrganisationSource):
            return SecurityPlan(notes=("the source has no organisation to read users from",))
        snapshot = await read_org_snapshot(
            source,
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
        )
    return plan_security(snapshot, settings.security, now=time.time())


@dataclass(frozen=True, slots=True)
class SignedUrlsResult:
    """Signed URLs created (or refused) and where their map was written."""

    results: list[SignedUrl]
    csv_path: Path
    json_path: Path

    @property
    def refused(self) -> int:
        """Requests that got no signed URL."""
        return sum(1 for r in self.results if not r.ok)


async def signed_urls(
    settings: Settings, requests: Sequence[str], *, valid_for: int, out_dir: Path | None = None
) -> SignedUrlsResult:
    """Artifactory signed URLs for the migrated files ``requests`` name (Bintray URLs or
    paths), valid ``valid_for`` seconds; the old → new map goes to ``out_dir``."""
    async with open_store(settings, readonly=True) as store, open_target(settings) as target:
        if not isinstance(target, ArtifactoryTarget):
            raise ConfigError("signed URLs need an Artifactory target")
        results = await sign_urls(
            requests,
            store,
            target.admin,
            subject=settings.source.subject,
            target_url=settings.target.url,
            valid_for_secs=valid_for,
        )
    csv_path, json_path = await write_signed_url_map(
        results, out_dir or settings.report.output_dir, valid_for_secs=valid_for
    )
    return SignedUrlsResult(results, csv_path, json_path)


# --- end issue 5 ---
