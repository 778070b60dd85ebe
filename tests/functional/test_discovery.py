"""Parallel discovery against the Bintray emulator over sockets: the same items as a sequential
walk, nothing twice, resumable after a kill, incremental, and backing off when the service
pushes back (429, a rate-limit quota running low)."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestServer
from harness import (
    assert_target_matches_source,
    create_target_repos,
    done_count,
    run_migration,
    settings_for,
)

from transfer.checkpoint import SqliteStore
from transfer.http import RetryPolicy
from transfer.migrate.metadata import MetadataMapper
from transfer.pipeline.discover import DiscoveryResult, discover, discovery_complete
from transfer.redaction import Secret
from transfer.sandbox.bintray import BintrayEmulator, BintrayOptions
from transfer.sandbox.faults import FaultInjector
from transfer.sandbox.generator import build_organization, credentials
from transfer.sandbox.layouts import Forge
from transfer.sandbox.orgdata import Organization
from transfer.sandbox.serve import Sandbox
from transfer.sources.bintray import BintraySource

pytestmark = pytest.mark.anyio

FAST_RETRY = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01)


def wide_org() -> Organization:
    """``tiny`` plus two repositories of 12 packages x 3 versions x 2 files."""
    org = build_organization("tiny", seed=1)
    forge = Forge(org, random.Random(11))
    for r in range(2):
        repo = forge.add_repo(f"wide-{r}", "generic", desc="many small packages")
        for p in range(12):
            package = forge.add_package(repo, f"lib {p:02d}+x")
            for v in range(3):
                version = forge.add_version(package, f"1.{v}")
                for f in range(2):
                    path = f"lib-{p:02d}/1.{v}/part-{f}.bin"
                    forge.add_file(repo, package, version, path, 100 + p * 10 + v + f)
    return org


@asynccontextmanager
async def source_over(
    org: Organization,
    *,
    options: BintrayOptions | None = None,
    faults: str = "",
    retry: RetryPolicy = FAST_RETRY,
) -> AsyncIterator[BintraySource]:
    injector = FaultInjector(faults, seed=5).scoped("bintray") if faults else None
    emulator = BintrayEmulator(org, options=options, faults=injector)
    async with TestServer(emulator.api_app) as api, TestServer(emulator.download_app) as dl:
        emulator.download_base_url = str(dl.make_url(""))
        creds = credentials(org)
        source = BintraySource(
            str(api.make_url("")),
            str(dl.make_url("")),
            org.name,
            creds["user"],
            Secret(creds["api_key"]),
            retry_policy=retry,
        )
        async with source:
            yield source


def stored(db: Path) -> list[tuple[Any, ...]]:
    """Every item row that discovery decides (not the copy's outcome columns), sorted."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT repo, package, version, path, size, sha1, sha256, published, target_repo,"
            " target_path, properties FROM items"
        ).fetchall()
    return sorted((*row[:-1], json.loads(row[-1])) for row in rows)


async def run_discovery(
    source: BintraySource,
    db: Path,
    *,
    concurrency: int,
    properties: bool = True,
    stop_after_versions: int | None = None,
) -> DiscoveryResult:
    async with SqliteStore(db) as store:
        mapper = MetadataMapper(source, store) if properties else None

        def maybe_stop(found: DiscoveryResult) -> None:
            if stop_after_versions is not None and found.versions >= stop_after_versions:
                raise _Killed

        result = await discover(
            source,
            store,
            subject=source.subject,
            repo_key_template="{repo}",
            properties=mapper,
            on_progress=maybe_stop,
            concurrency=concurrency,
            batch_items=5,
        )
        if mapper is not None:
            await mapper.flush()
        return result


class _Killed(Exception):
    """Stands for the process dying in the middle of discovery."""


async def test_parallel_discovery_finds_what_a_sequential_walk_finds(tmp_path: Path) -> None:
    org = wide_org()
    async with source_over(org) as source:
        one = await run_discovery(source, tmp_path / "one.db", concurrency=1)
        many = await run_discovery(source, tmp_path / "many.db", concurrency=32)
    sequential, parallel = stored(tmp_path / "one.db"), stored(tmp_path / "many.db")
    assert parallel == sequential
    keys = [(row[0], row[3]) for row in parallel]
    assert len(keys) == len(set(keys))  # nothing twice
    expected = {
        (f.repo, f.path)
        for repo in org.repos.values()
        for p in repo.packages.values()
        if not getattr(p, "linked", False)
        for v in p.versions
        for f in v.files
    }
    assert set(keys) <= expected
    assert {k for k in expected if k[0].startswith("wide-")} <= set(keys)
    assert (many.files, many.versions, many.packages) == (one.files, one.versions, one.packages)
    assert many.upserts.new == len(parallel)


async def test_killed_discovery_resumes_without_listing_written_versions(tmp_path: Path) -> None:
    org = wide_org()
    db = tmp_path / "state.db"
    async with source_over(org) as source:
        with pytest.raises(BaseExceptionGroup) as killed:
            await run_discovery(source, db, concurrency=16, stop_after_versions=20)
        assert killed.group_contains(_Killed)
        async with SqliteStore(db) as store:
            assert not await discovery_complete(store)
        first = stored(db)
        assert first  # part of the organisation is in the store
        resumed = await run_discovery(source, db, concurrency=16)
        async with SqliteStore(db) as store:
            assert await discovery_complete(store)
        clean = await run_discovery(source, tmp_path / "clean.db", concurrency=16)
    assert stored(db) == stored(tmp_path / "clean.db")
    # versions (and whole packages) written before the kill were not listed again
    assert resumed.versions_skipped + resumed.packages_skipped > 0
    assert resumed.versions < clean.versions


async def test_a_rerun_after_a_complete_pass_finds_nothing_new(tmp_path: Path) -> None:
    org = wide_org()
    db = tmp_path / "state.db"
    async with source_over(org) as source:
        first = await run_discovery(source, db, concurrency=16)
        again = await run_discovery(source, db, concurrency=16)
    assert first.upserts.new > 0
    assert (again.upserts.new, again.upserts.changed) == (0, 0)
    assert again.files == first.files  # a new pass walks everything, and changes nothing


async def test_discovery_backs_off_on_429_and_still_finds_everything(tmp_path: Path) -> None:
    org = wide_org()
    async with source_over(org) as source:
        await run_discovery(source, tmp_path / "clean.db", concurrency=16, properties=False)
    async with source_over(org, faults="api:429=0.15") as source:
        await run_discovery(source, tmp_path / "throttled.db", concurrency=16, properties=False)
        limiter = source.api_limiter
        assert limiter.throttles >= 1
    assert stored(tmp_path / "throttled.db") == stored(tmp_path / "clean.db")


async def test_discovery_slows_down_as_the_rate_limit_quota_runs_low(tmp_path: Path) -> None:
    org = wide_org()
    counting = BintrayOptions()
    async with source_over(org, options=counting) as source:
        await run_discovery(source, tmp_path / "clean.db", concurrency=16, properties=False)
        calls = source._api_client.stats.requests
    # a quota that just suffices: it falls below a tenth of the limit near the end
    tight = BintrayOptions(rate_limit=calls + 2, rate_limit_budget=calls + 2)
    async with source_over(org, options=tight, retry=RetryPolicy(max_attempts=1)) as source:
        await run_discovery(source, tmp_path / "tight.db", concurrency=16, properties=False)
        limiter = source.api_limiter
        assert limiter.throttles >= 1
        assert limiter.limit < limiter.max_limit
    assert stored(tmp_path / "tight.db") == stored(tmp_path / "clean.db")


async def test_many_calls_in_flight_when_round_trips_are_long(tmp_path: Path) -> None:
    org = wide_org()
    async with source_over(org, faults="api:latency=0.02") as source:
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, source.api_limiter.in_flight)
                await anyio.sleep(0.005)

        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            await run_discovery(source, tmp_path / "state.db", concurrency=32)
            group.cancel_scope.cancel()
    # a sequential walk never has more than two calls in flight
    assert peak > 8


async def test_copying_starts_before_discovery_ends(tmp_path: Path) -> None:
    # Slow API calls, one at a time: discovery takes a while, and copy workers must not wait
    # for its end (the store shows a copy started before the last version was discovered).
    async with Sandbox("tiny", faults="bintray.api:latency=0.03") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        settings = replace(settings, source=replace(settings.source, api_concurrency=1))
        summary = await run_migration(settings)
        assert done_count(summary) == assert_target_matches_source(sandbox)
    with sqlite3.connect(tmp_path / "state.db") as conn:
        (last_discovered,) = conn.execute("SELECT MAX(discovered_at) FROM discovered").fetchone()
        (first_copy,) = conn.execute("SELECT MIN(started_at) FROM items").fetchone()
    assert first_copy < last_discovered
