"""Builds the source, target and store clients from settings, and names this worker."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from transfer.checkpoint.base import (
    CheckpointStore,
)
from transfer.checkpoint.sqlite import SqliteStore
from transfer.errors import ConfigError
from transfer.http.client import Timeouts as HttpTimeouts
from transfer.http.retry import RetryPolicy
from transfer.settings import Settings, Timeouts
from transfer.sources.base import Source
from transfer.sources.bintray import BintraySource
from transfer.targets.artifactory import ArtifactoryTarget
from transfer.targets.base import Target


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
    if s.type == "http":
        from transfer.sources.http_index import HttpIndexSource

        return HttpIndexSource.from_settings(settings)
    if s.type == "directory":
        from transfer.sources.directory import DirectorySource

        return DirectorySource.from_settings(settings)
    if s.type == "artifactory":
        from transfer.sources.artifactory import ArtifactorySource

        return ArtifactorySource.from_settings(settings)
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
        api_concurrency=s.api_concurrency,
        # every copy in flight holds a download connection, to the dl host or the CDN
        download_connections=max(16, 2 * settings.transfer.workers),
    )


def open_target(settings: Settings) -> Target:
    """The configured target client (not yet opened: use ``async with``)."""
    t = settings.target
    if t.type == "webdav":
        from transfer.targets.webdav import WebDavTarget

        # as many connections as workers can use, and the run's retry policy
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


def open_store(
    settings: Settings,
    *,
    readonly: bool = False,
    on_outage: Callable[[str], None] | None = None,
) -> CheckpointStore:
    """The configured checkpoint store (not yet opened: use ``async with``); ``on_outage``
    hears when a PostgreSQL store goes away mid-run and when it is back (one line each)."""
    s = settings.store
    if s.backend == "postgres" and s.url is not None:
        try:
            from transfer.checkpoint.postgres import PostgresStore
        except ImportError:
            raise ConfigError(
                "store.url needs the PostgreSQL driver: pip install 'transfer[postgres]'"
            ) from None
        return PostgresStore(
            s.url,
            run=s.run,
            password=s.password,
            readonly=readonly,
            outage_timeout=s.outage_timeout,
            on_outage=on_outage,
        )
    if readonly:
        if not s.path.exists():
            raise ConfigError(f"no migration state at {s.path}: run `transfer migrate` first")
        return SqliteStore.open_readonly(s.path, run=s.run)
    return SqliteStore(s.path, run=s.run)


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
    The owners are read from the leases themselves, not from the workers' heartbeats: a run
    killed between its first claim and its first heartbeat (possible before the engine
    heartbeated first) holds leases under a name the workers table never heard of.
    """
    here, reaped = socket.gethostname(), 0
    for owner in await store.lease_owners():
        host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != here or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        if not _process_alive(int(pid_text)):
            reaped += await store.expire_leases(owner)
    return reaped


@asynccontextmanager
async def _opened(
    settings: Settings, *, on_outage: Callable[[str], None] | None = None
) -> AsyncIterator[tuple[Source, Target, CheckpointStore]]:
    async with (
        open_store(settings, on_outage=on_outage) as store,
        open_source(settings) as source,
        open_target(settings) as target,
    ):
        yield source, target, store
