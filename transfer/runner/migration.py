"""The migrate use case: runs the phases in order, resuming whatever the store has open."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from transfer.checkpoint.base import (
    META_CONFIG_FINGERPRINT,
    CheckpointStore,
    Counts,
    Outcome,
)
from transfer.http.breaker import CircuitBreaker, Trip
from transfer.http.pacing import AdaptiveLimiter
from transfer.migrate.copied_security import (
    SecurityDirectorySource,
    run_copied_security_phase,
)
from transfer.migrate.metadata import (
    CarriedPropertiesMapper,
    FilePropertySource,
    MetadataMapper,
    apply_properties,
)
from transfer.migrate.repositories_phase import (
    blocked_repositories,
    run_repositories_phase,
)
from transfer.migrate.security import (
    OrganisationSource,
)
from transfer.migrate.security_phase import run_security_phase
from transfer.migrate.unmigratable import deleted_in_source, record_unmigratable, skipped_entry
from transfer.migrate.urlmap import URL_MAP_NAME, write_url_map
from transfer.models import ItemState
from transfer.pipeline.coordination import discover_shared, phase_lock
from transfer.pipeline.discover import DiscoveryResult, discover
from transfer.pipeline.engine import StopControl, run_artifacts
from transfer.pipeline.incremental import IncrementalListing, begin_listing, end_listing
from transfer.reporting.events import (
    EventBus,
    PhaseFinished,
    PhaseStarted,
    RunStarted,
    StoreOutage,
    Totals,
)
from transfer.reporting.report import note_session
from transfer.runner.copy_processes import copy_processes
from transfer.runner.copying import (
    BusObserver,
    build_copy_worker,
    engine_options,
    service_breaker,
)
from transfer.runner.listing import discovery_progress, listed
from transfer.runner.preflight import check_local_files
from transfer.runner.target_check import recheck_if_target_changed, record_target_identity
from transfer.runner.wiring import (
    _opened,
    reap_dead_workers,
    worker_id,
)
from transfer.settings import Settings
from transfer.sources.base import ListsSkipped, Source
from transfer.targets.base import Target

PHASES = ("repositories", "security", "artifacts", "properties")


@dataclass(slots=True)
class MigrationSummary:
    """How a ``migrate`` ended."""

    counts: Counts | None = None
    discovery: DiscoveryResult | None = None
    stopped: str = ""
    phases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tripped: Trip | None = None
    """Set when a service failed every call and the run stopped for it (exit code 3)."""
    side_failures: int = 0
    """Repositories, users, groups, permission targets, tokens or property sets that failed."""
    processes: int = 1
    """How many processes copied files (this one included)."""
    process_joined_after: float | None = None
    """Seconds into the run when ``processes = "auto"`` added one (``None``: it did not)."""

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
            "service_failed": self.tripped.message() if self.tripped else "",
            "side_failures": self.side_failures,
            "items": by_state,
            "processes": {
                "copying": self.processes,
                "joined_after_seconds": self.process_joined_after,
            },
            "notes": self.notes,
        }


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
    started = time.time()
    await check_local_files(settings, phases)
    breaker = service_breaker(settings, stop)

    def outage(line: str) -> None:
        bus.emit(StoreOutage(message=line))
        summary.notes.append(line)

    async with _opened(settings, on_outage=outage) as (source, target, store):
        info = await target.check_access()
        summary.notes.append(f"target: {info.product} {info.version}")
        fingerprint = settings.fingerprint()
        previous = await store.get_meta(META_CONFIG_FINGERPRINT)
        if previous and previous != fingerprint:
            summary.notes.append("the configuration changed since this run started")
        await store.set_meta(META_CONFIG_FINGERPRINT, fingerprint)
        # the target's truth wins over the store's memory: a changed target is re-checked
        changed = await recheck_if_target_changed(settings, target, store)
        if changed:
            summary.notes.append(changed)
        if retry_failed:
            reopened = await store.reset([ItemState.FAILED, ItemState.CONFLICT])
            summary.notes.append(f"re-opened {reopened} failed or conflicting items")
        if "repositories" in phases and not stop.requested():
            summary.phases.append("repositories")
            async with phase_lock(store, "repositories"):  # one worker at a time
                if target.admin is not None:
                    repositories = await run_repositories_phase(
                        source,
                        target.admin,
                        store,
                        subject=settings.source.subject,
                        repo_key_template=settings.target.repo_key_template,
                        bus=bus,
                        suppress_pom_checks=settings.target.suppress_pom_consistency_checks,
                    )
                    summary.notes.append(repositories.note())
                    summary.side_failures += len(repositories.failed)
                else:
                    summary.notes.append("repositories: skipped (the target has no repositories)")
        if "security" in phases and not stop.requested():
            summary.phases.append("security")
            async with phase_lock(store, "security"):  # one worker at a time
                if target.admin is not None and isinstance(source, OrganisationSource):
                    security = await run_security_phase(
                        source, target.admin, store, settings=settings, bus=bus
                    )
                    summary.notes.append(security.note())
                    summary.side_failures += len(security.failed)
                elif target.admin is not None and isinstance(source, SecurityDirectorySource):
                    security = await run_copied_security_phase(
                        source, target.admin, store, settings=settings, bus=bus
                    )
                    summary.notes.append(security.note())
                    summary.side_failures += len(security.failed)
                else:
                    summary.notes.append("security: skipped (the source or target has no users)")
        reaped = await reap_dead_workers(store)
        if reaped:
            summary.notes.append(f"resumed {reaped} files a stopped run had in flight")
        if "artifacts" in phases and not stop.requested():
            summary.phases.append("artifacts")
            summary.discovery = await _artifacts(
                settings, source, target, store, bus, stop, owner, breaker, summary
            )
        if "properties" in phases and not stop.requested():
            summary.phases.append("properties")
            async with phase_lock(store, "properties"):  # one worker at a time
                applied = await apply_properties(
                    store, target, everything="artifacts" not in phases, bus=bus, breaker=breaker
                )
                summary.notes.append(applied.note())
                summary.side_failures += len(applied.failed)
        if "artifacts" in phases and settings.source.type != "artifactory":
            url_map = await write_url_map(
                store,
                settings.report.output_dir / URL_MAP_NAME,
                download_url=settings.source.download_url,
                subject=settings.source.subject,
                target_url=settings.target.url,
            )
            summary.notes.append(
                f"URL map: {url_map.files} migrated files ({url_map.rows} URLs) in {url_map.path}"
            )
        summary.tripped = breaker.tripped
        if summary.tripped is None:
            await record_target_identity(settings, target, store)
        else:
            # the files that failed in the streak failed for the service, not for themselves
            for item_id in summary.tripped.items:
                await store.record(item_id, Outcome(ItemState.PENDING))
            await store.flush()
        summary.counts = await store.counts()
        await note_session(store, started, time.time())
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
    breaker: CircuitBreaker,
    summary: MigrationSummary,
) -> DiscoveryResult:
    t = settings.transfer
    notes = summary.notes
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
    observer = BusObserver(bus, owner)
    result = DiscoveryResult()

    async def on_progress(found: DiscoveryResult) -> None:
        bus.emit(discovery_progress(found))

    # properties computed at discovery ride on the deploy; nothing is copied into a
    # repository key the repositories phase found taken by an incompatible repository
    mapper: MetadataMapper | CarriedPropertiesMapper | None = None
    if target.capabilities.properties:
        mapper = (
            CarriedPropertiesMapper(source, store)
            if isinstance(source, FilePropertySource)
            else MetadataMapper(
                source, store, file_attributes=settings.source.file_attributes, concurrency=32
            )
        )
    blocked = await blocked_repositories(store)

    async def run_discovery() -> None:
        nonlocal result
        if isinstance(source, IncrementalListing):
            await begin_listing(source, store)
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
        if isinstance(source, ListsSkipped):
            await record_unmigratable(store, map(skipped_entry, source.skipped_files()))
        if isinstance(source, IncrementalListing):
            repos = [repo.name for repo in await source.list_repositories()]
            gone = await end_listing(source, store, repos)
            await record_unmigratable(store, [deleted_in_source(r, p) for r, p in gone])

    worker, copies = await build_copy_worker(
        settings, source, target, store, observer=observer, breaker=breaker
    )
    async with copy_processes(settings, store, bus, stop, owner=owner) as helpers:

        async def discovery() -> None:
            # one discoverer per run; the others claim what it writes
            await listed(
                bus,
                store,
                discover_shared(
                    store,
                    run_discovery,
                    owner=owner,
                    live_within=t.lease_seconds if settings.store.backend == "postgres" else None,
                ),
            )
            await helpers.discovered()

        await run_artifacts(
            store=store,
            worker=worker,
            options=engine_options(t, owner),
            observer=observer,
            stop=stop,
            discovery=discovery,
            bytes_moved=lambda: bus.counters.bytes_moved,
            copies=copies,
            share=helpers.share,
        )
    summary.processes, summary.process_joined_after = helpers.processes, helpers.joined_after
    if helpers.processes > 1:
        notes.append(helpers.copied_by_each())
        notes.extend(helpers.notes)
    notes.append(
        f"copies in flight: up to {copies.peak_in_flight} at once (limit now {copies.limit}"
        f" of at most {copies.max_limit}; {copies.throttles} push-backs halved it)"
    )
    api = getattr(source, "api_limiter", None)
    if isinstance(api, AdaptiveLimiter):
        notes.append(
            f"source API calls in flight: up to {api.peak_in_flight} at once (limit now "
            f"{api.limit} of at most {api.max_limit}; {api.throttles} push-backs halved it)"
        )
    # this worker's final figures for `transfer status`
    await store.heartbeat_worker(owner, {**observer.heartbeat_stats(), "finished": True})
    counts = await store.counts()
    bus.emit(
        PhaseFinished(
            name="artifacts",
            summary={s.value: counts[s].items for s in ItemState},
        )
    )
    return result
