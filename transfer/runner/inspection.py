"""Read-only use cases: status of a run, the independent audit (verify), the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transfer.checkpoint.base import (
    META_LAST_VERIFY,
    CheckpointStore,
    Counts,
    WorkerInfo,
)
from transfer.errors import ConfigError, StoreError
from transfer.migrate.metadata import BOOKKEEPING_KINDS
from transfer.migrate.urlmap import artifactory_url
from transfer.models import ItemState
from transfer.pipeline.audit import AuditResult, audit
from transfer.pipeline.discover import discovery_state
from transfer.pipeline.target_truth import reopen_from_audit
from transfer.reporting.causes import service_names
from transfer.reporting.live import serve_report
from transfer.reporting.report import ReportPaths, write_report
from transfer.runner.wiring import (
    open_source,
    open_store,
    open_target,
)
from transfer.settings import Settings


async def store_counts(settings: Settings) -> Counts:
    """Item counts of the configured run, read without disturbing a running migration."""
    return (await status(settings)).counts


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A run as ``transfer status`` shows it: counts, and every worker's last heartbeat."""

    counts: Counts
    workers: list[WorkerInfo]
    live_within: float = 300.0  # a worker heard from this recently is alive
    discovery_complete: bool | None = None  # None: discovery never started
    starved_below: int = 64  # fewer pending files than this: copy workers wait for discovery

    def bottleneck(self) -> str | None:
        """What sets the pace now: ``"discovery"`` while it runs and the copy workers have
        (almost) nothing left to claim, ``"copy"`` while files wait to be copied, ``"none"``
        when everything discovered is finished; ``None`` before discovery started."""
        if self.discovery_complete is None:
            return None
        waiting = self.counts[ItemState.PENDING].items
        if self.discovery_complete:
            busy = waiting + self.counts[ItemState.IN_FLIGHT].items
            return "copy" if busy else "none"
        return "discovery" if waiting < self.starved_below else "copy"

    def discovery(self) -> dict[str, Any]:
        """Discovered against copied, and the bottleneck (see :meth:`bottleneck`)."""
        c = self.counts
        return {
            "complete": self.discovery_complete,
            "discovered": c.total.items,
            "copied": c[ItemState.DONE].items,
            "pending": c[ItemState.PENDING].items,
            "bottleneck": self.bottleneck(),
        }

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
            "bytes_per_second": self.rate(now),
            "discovery": self.discovery(),
        }


async def status(settings: Settings) -> RunStatus:
    """The configured run's counts and workers, read without disturbing a running migration."""
    async with open_store(settings, readonly=True) as store:
        return RunStatus(
            await store.counts(),
            await store.list_workers(),
            live_within=settings.transfer.lease_seconds,
            discovery_complete=await discovery_state(store),
            starved_below=settings.transfer.claim_batch,
        )


async def verify(
    settings: Settings,
    *,
    out_dir: Path | None = None,
    repair: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Audit the target against a fresh source listing; details go to ``verify.csv``.

    When the run's store exists, the result and its time are recorded there (the report says
    "verified" only for what an audit confirmed, and reads it from the store so a ``report`` run
    on another machine sees it too); with ``repair``, the items found missing or different in
    the target go back to ``pending`` (``reopened``) for the next ``migrate``. ``on_progress``
    is called with the number of source files listed so far.
    """
    target_dir = out_dir or settings.report.output_dir
    async with open_source(settings) as source, open_target(settings) as target:
        if not hasattr(target, "iter_files"):
            raise ConfigError(
                f"`transfer verify` needs an Artifactory target, not {settings.target.type}"
            )
        await target.check_access()  # refused credentials: exit 3, not a per-repository error
        result = await audit(
            source,
            target,  # type: ignore[arg-type]
            subject=settings.source.subject,
            repo_key_template=settings.target.repo_key_template,
            work_dir=target_dir,
            checksum_files=target.capabilities.checksum_files,
            on_progress=on_progress,
        )
    if repair:
        async with open_store(settings) as store:
            await _record_verify(store, result)
            if result.csv_path is not None:
                result.reopened = await reopen_from_audit(store, result.csv_path)
    elif _store_exists(settings):
        try:
            async with open_store(settings) as store:
                await _record_verify(store, result)
        except StoreError:
            pass  # the audit stands; the report then says it was not verified
    return result


def _store_exists(settings: Settings) -> bool:
    return settings.store.backend == "postgres" or settings.store.path.exists()


async def _record_verify(store: CheckpointStore, result: AuditResult) -> None:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    await store.set_meta(META_LAST_VERIFY, json.dumps({"at": when, **result.as_dict()}))


async def report(settings: Settings, *, out_dir: Path | None = None) -> ReportPaths:
    """Write the migration report from the store (readable while a run is going)."""
    async with open_store(settings, readonly=True) as store:
        return await write_report(
            store,
            out_dir or settings.report.output_dir,
            skip_kinds=BOOKKEEPING_KINDS,
            services=service_hosts(settings),
            target_url=lambda repo, path: artifactory_url(settings.target.url, repo, path),
        )


async def serve_live_report(
    settings: Settings,
    host: str,
    port: int,
    *,
    refresh: float,
    on_ready: Callable[[str], None],
) -> None:
    """Serve the report page at ``host:port``, rebuilt from the store (opened read-only, so a
    running migration is not disturbed, on any number of workers) every ``refresh`` seconds,
    until cancelled."""
    async with open_store(settings, readonly=True) as store:

        async def build(folder: Path) -> ReportPaths:
            return await write_report(
                store,
                folder,
                skip_kinds=BOOKKEEPING_KINDS,
                live_seconds=refresh,
                services=service_hosts(settings),
                target_url=lambda repo, path: artifactory_url(settings.target.url, repo, path),
            )

        await serve_report(build, host, port, refresh=refresh, on_ready=on_ready)


def service_hosts(settings: Settings) -> dict[str, str]:
    """``{host:port: name}`` of the configured services, named the way a failure reason
    should name them ("HTTP 401 from the download host")."""
    return service_names(
        {
            "the download host": settings.source.download_url,
            "the Bintray API": settings.source.api_url,
            "the target": settings.target.url,
        }
    )
