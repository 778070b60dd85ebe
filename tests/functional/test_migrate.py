"""Whole migrations against the emulators over real sockets: bytes arrive, checksums match."""

from __future__ import annotations

import base64
import csv
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from harness import (
    assert_target_matches_source,
    create_target_repos,
    done_count,
    run_migration,
    settings_for,
)

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import migrate, report, verify
from transfer.sandbox.serve import Sandbox

ORPHANS = "checksum file of a file that is not in the target"  # checksum files of files that failed

pytestmark = pytest.mark.anyio


async def test_demo_organisation_migrates_completely(tmp_path: Path) -> None:
    async with Sandbox("demo") as sandbox:
        create_target_repos(sandbox)
        summary = await run_migration(settings_for(sandbox, tmp_path, workers=8))
        assert summary.counts is not None
        total = sum(1 for _ in sandbox.org.iter_files())
        assert done_count(summary) == total
        assert summary.counts[ItemState.FAILED].items == 0
        assert assert_target_matches_source(sandbox) == total
        # identical content is stored once: fewer blobs than files
        assert sandbox.artifactory.blob_count() < total
        # linked packages: found in every linking repository, copied into the owner only
        assert summary.discovery is not None
        assert summary.discovery.links == 3
        for repo in sandbox.org.repos.values():
            for package in repo.packages.values():
                for linking in package.linked_to_repos:
                    for file in (f for v in package.versions for f in v.files):
                        assert sandbox.artifactory.item(linking, file.path) is None


async def test_rerun_sends_nothing_and_new_source_files_are_copied(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        first = await run_migration(settings)
        puts = sandbox.artifactory.request_log.count(method="PUT")
        second = await run_migration(settings)
        assert done_count(second) == done_count(first)
        assert sandbox.artifactory.request_log.count(method="PUT") == puts

        # the source gains a file: only that one is sent
        version = next(iter(sandbox.org.repos["releases"].packages.values())).versions[0]
        template = version.files[0]
        new = replace(template, path=template.path + ".extra", content_key="brand-new")
        version.files.append(new)
        third = await run_migration(settings)
        assert done_count(third) == done_count(first) + 1
        new_puts = [r for r in sandbox.artifactory.request_log if r.method == "PUT" and r.bytes_in][
            -1:
        ]
        assert sandbox.artifactory.request_log.count(method="PUT") == puts + 1
        assert new_puts
        assert new_puts[0].path.endswith(".extra")
        assert_target_matches_source(sandbox)


async def test_corrupted_downloads_are_never_recorded_done(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.download:corrupt=1.0") as sandbox:
        create_target_repos(sandbox)
        summary = await run_migration(settings_for(sandbox, tmp_path, max_attempts=2))
        assert summary.counts is not None
        failed = summary.counts[ItemState.FAILED].items
        # every file with bytes to corrupt fails; zero-byte files cannot be corrupted
        assert failed > 0
        for item_state in (ItemState.PENDING, ItemState.IN_FLIGHT):
            assert summary.counts[item_state].items == 0
        for file in sandbox.org.iter_files():
            stored = sandbox.artifactory.item(file.repo, file.path)
            if stored is not None:
                digests = sandbox.org.content.digests(file.content_key, file.size, kind=file.kind)
                assert stored.sha256 == digests.sha256


async def test_fault_mix_completes_and_verifies(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="mix", seed=3) as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path, max_attempts=10)
        summary = await run_migration(settings)
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0, summary.as_dict()
        assert sandbox.faults.count() > 0
        assert_target_matches_source(sandbox)


async def test_failures_are_reported_with_reason(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.download:503=1.0") as sandbox:
        create_target_repos(sandbox)
        # every download fails: without the circuit breaker, each file is a failure
        settings = settings_for(sandbox, tmp_path, max_attempts=2, breaker_threshold=0)
        summary = await run_migration(settings)
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items > 0
        paths = await report(settings)
        with paths.failures_csv.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        failed = [row for row in rows if row["state"] == "failed"]
        assert len(failed) == summary.counts[ItemState.FAILED].items
        # besides the files: checksum files (.sha1) of files that failed, which the target
        # serves itself once the file is there
        assert {row["cause"] for row in failed} <= {
            "HTTP 503 from the download host",
            ORPHANS,
        }
        failed = [row for row in failed if row["cause"] != ORPHANS]
        assert failed
        target = settings.target.url
        for row in failed:
            assert row["http_status"] == "503"
            assert row["cause"] == "HTTP 503 from the download host"
            assert row["target_repo"] == row["repo"]
            assert row["target_url"].startswith(f"{target}/{row['repo']}/")
            # the reason once: neither the URL nor the path repeated in it
            assert "http://" not in row["reason"]
            assert row["path"] not in row["reason"]
            assert row["reason"].startswith("HTTP 503 Service Unavailable from the download host")
        markdown = paths.markdown.read_text()
        summary_line = f"{len(failed)} files: HTTP 503 from the download host"
        assert summary_line in markdown.split("## Why files failed")[0]  # at the top
        assert "[failures.csv](failures.csv)" in markdown


async def test_verify_finds_deleted_and_replaced_files(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings)
        clean = await verify(settings)
        assert clean.clean
        assert clean.same == sum(1 for _ in sandbox.org.iter_files())

        files = [f for f in sandbox.org.iter_files() if f.size > 0 and f.repo == "releases"]
        deleted, replaced = files[0], files[1]
        e = sandbox.endpoints
        token = base64.b64encode(f"{e.artifactory_user}:{e.artifactory_password}".encode())
        headers = {"Authorization": f"Basic {token.decode()}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            url = f"{e.artifactory_url}/{deleted.repo}/{deleted.path}"
            async with http.delete(url.replace(" ", "%20")) as response:
                assert response.status == 204
            url = f"{e.artifactory_url}/{replaced.repo}/{replaced.path}"
            async with http.put(url.replace(" ", "%20"), data=b"not the original") as response:
                assert response.status == 201
        audit = await verify(settings)
        assert not audit.clean
        assert (audit.only_in_source, audit.differs) == (1, 1)
        assert audit.csv_path is not None
        text = audit.csv_path.read_text()
        assert deleted.path in text
        assert replaced.path in text


async def test_checksum_deploy_probes_stop_on_a_cold_target(tmp_path: Path) -> None:
    async with Sandbox("bench-small", file_count=500) as sandbox:
        create_target_repos(sandbox)
        summary = await run_migration(settings_for(sandbox, tmp_path, workers=4))
        assert done_count(summary) == 500
        log = sandbox.artifactory.request_log
        misses = sum(1 for r in log if r.method == "PUT" and r.status == 404)
        eligible = sum(1 for f in sandbox.org.iter_files() if f.size >= 10 * 1024)
        assert eligible > 300
        # the first 200 probes find nothing, so the rest of the small files stream directly
        assert 200 <= misses <= 200 + 4


async def test_a_corrupted_download_is_blamed_on_the_download(tmp_path: Path) -> None:
    # every download body has one byte flipped; the target's checksum policy refuses the
    # upload (409), but the cause is the download, and the report says so
    async with Sandbox("tiny", faults="bintray.download:corrupt=1.0") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path, max_attempts=1)
        summary = await run_migration(settings)
        assert summary.counts is not None
        paths = await report(settings)
        with paths.failures_csv.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row["state"] == "failed"]
        assert rows
        causes = {row["cause"] for row in rows} - {ORPHANS}
        assert causes == {"download from the source corrupted"}
        for row in rows:
            if row["cause"] != "download from the source corrupted":
                continue
            assert "target" not in row["reason"], row["reason"]
            assert "sha" in row["reason"]  # names the checksum that differs


async def test_progress_counts_copies_in_flight_and_ends_at_its_totals(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        bus = EventBus()
        active: list[int] = []
        bus.subscribe(lambda event: active.append(bus.counters.active))
        await migrate(settings, bus=bus, stop=StopControl(), phases=("artifacts",))
        snap = bus.counters.snapshot()
    assert max(active) >= 1  # "active" used to be 0 throughout
    assert snap.active == 0
    assert snap.listing_complete
    assert snap.files_done == snap.files_total == sum(1 for _ in sandbox.org.iter_files())
