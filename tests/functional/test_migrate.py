"""Whole migrations against the emulators over real sockets: bytes arrive, checksums match."""

from __future__ import annotations

import base64
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
from transfer.runner import report, verify
from transfer.sandbox.serve import Sandbox

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
        rows = paths.failures_csv.read_text().splitlines()
        assert rows[0].startswith("repo,package,version,path,state,http_status,reason,attempts")
        assert any(",failed,503," in row for row in rows[1:])
        assert "failed" in paths.markdown.read_text()


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
