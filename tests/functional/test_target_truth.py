"""The target's truth over the store's memory (issue 17 §1-2): a target re-created, moved to
another URL or with a repository re-created is re-checked before its ``done`` items are trusted;
``verify --repair`` re-opens what an audit found missing; the report says "verified" only for
what ``verify`` confirmed; a file someone else put into a repository the migration created is
never overwritten silently."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import anyio
import anyio.to_thread
import pytest
from harness import artifact_uploads, run_migration, settings_for

from transfer.models import ItemState
from transfer.pipeline.planner import checksum_file_of
from transfer.runner import open_store, report, verify
from transfer.sandbox.orgdata import BintrayFile
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

ALL = ("repositories", "artifacts")


def _pointed_at(settings: Settings, target: Sandbox) -> Settings:
    """``settings`` with the target replaced by ``target``'s Artifactory (same credentials)."""
    return replace(settings, target=replace(settings.target, url=target.endpoints.artifactory_url))


def _missing(source: Sandbox, target: Sandbox) -> list[str]:
    """Source files the target does not hold (checksum files are never stored: Artifactory
    serves them from their artifact)."""
    return [
        f"{f.repo}/{f.path}"
        for f in source.org.iter_files()
        if checksum_file_of(f.path) is None and target.artifactory.item(f.repo, f.path) is None
    ]


async def _admin(sandbox: Sandbox) -> aiohttp.ClientSession:
    e = sandbox.endpoints
    token = base64.b64encode(f"{e.artifactory_user}:{e.artifactory_password}".encode())
    return aiohttp.ClientSession(headers={"Authorization": f"Basic {token.decode()}"})


async def _put_as_someone_else(sandbox: Sandbox, repo: str, path: str) -> None:
    """Deploy ``someone else's`` at ``repo/path`` of the target, as another tool would."""
    async with await _admin(sandbox) as http:
        url = f"{sandbox.endpoints.artifactory_url}/{repo}/{path}"
        async with http.put(url.replace(" ", "%20"), data=b"someone else's") as response:
            assert response.status == 201


async def test_a_recreated_target_on_the_same_url_is_rechecked(tmp_path: Path) -> None:
    async with Sandbox("tiny") as source:
        async with Sandbox("tiny") as first:
            port = int(first.endpoints.artifactory_url.split(":")[-1].split("/")[0])
            settings = _pointed_at(settings_for(source, tmp_path), first)
            summary = await run_migration(settings, phases=ALL)
            assert summary.counts is not None
            assert summary.counts[ItemState.DONE].items > 0
            assert not _missing(source, first)
        # the instance is re-installed, empty, at the same URL
        async with Sandbox("tiny", ports=(0, 0, port)) as second:
            assert second.endpoints.artifactory_url == settings.target.url
            again = await run_migration(settings, phases=ALL)
            assert any("service id changed" in note for note in again.notes), again.notes
            assert not _missing(source, second)
            assert again.counts is not None
            assert again.counts[ItemState.DONE].items == summary.counts[ItemState.DONE].items


async def test_a_target_at_another_url_is_rechecked(tmp_path: Path) -> None:
    async with Sandbox("tiny") as source, Sandbox("tiny") as other:
        settings = settings_for(source, tmp_path)
        await run_migration(settings, phases=ALL)
        moved = _pointed_at(settings, other)
        summary = await run_migration(moved, phases=ALL)
        assert any("target URL changed" in note for note in summary.notes), summary.notes
        assert not _missing(source, other)


async def test_a_recreated_repository_is_rechecked_alone(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        config = sandbox.artifactory.repositories()["releases"]
        async with await _admin(sandbox) as http:
            url = f"{sandbox.endpoints.artifactory_url}/api/repositories/releases"
            async with http.delete(url) as response:
                assert response.status == 200
            async with http.put(url, json=config) as response:
                assert response.status == 200
        before = sandbox.artifactory.request_log.recorded
        summary = await run_migration(settings, phases=ALL)
        assert any("re-created since: releases" in note for note in summary.notes)
        assert not _missing(sandbox, sandbox)
        puts = {
            r.path.split("/")[2]
            for r in sandbox.artifactory.request_log.since(before)
            if r.method == "PUT" and r.status == 201 and "/api/" not in r.path
        }
        assert puts == {"releases"}  # only the re-created repository was copied again


async def test_verify_repair_reopens_what_is_missing_and_the_report_says_what_was_verified(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        text = (await report(settings)).markdown.read_text()
        assert "recorded done by the migration" in text
        assert "**Verification:** not verified" in text
        # files with no checksum files beside them: deleting one loses exactly that file
        lost = [f for f in sandbox.org.iter_files() if f.repo == "debs"][:3]
        async with await _admin(sandbox) as http:
            for f in lost:
                url = f"{sandbox.endpoints.artifactory_url}/{f.repo}/{f.path}".replace(" ", "%20")
                async with http.delete(url) as response:
                    assert response.status == 204
        audit = await verify(settings, repair=True)
        assert (audit.only_in_source, audit.reopened) == (3, 3)
        text = (await report(settings)).markdown.read_text()
        assert "verified by `transfer verify` at" in text
        assert "3 missing" in text
        summary = await run_migration(settings, phases=ALL)
        assert summary.counts is not None
        assert summary.counts[ItemState.PENDING].items == 0
        assert not _missing(sandbox, sandbox)
        assert (await verify(settings)).clean


async def test_a_file_put_into_a_created_repository_is_never_overwritten(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=("repositories",))
        theirs = next(f for f in sandbox.org.iter_files() if f.repo == "releases" and f.size)
        await _put_as_someone_else(sandbox, theirs.repo, theirs.path)
        summary = await run_migration(settings, phases=("artifacts",))
        assert summary.counts is not None
        assert summary.counts[ItemState.CONFLICT].items == 1
        stored = sandbox.artifactory.item(theirs.repo, theirs.path)
        assert stored is not None
        assert stored.size == len(b"someone else's")


def _rewrite_at_source(sandbox: Sandbox, data: bytes) -> BintrayFile:
    """A released file of the organisation, now with ``data`` as its content (a new upload to
    Bintray at the same path: new size and checksums)."""
    file = next(
        f
        for f in sandbox.org.iter_files()
        if f.repo == "releases" and f.size and checksum_file_of(f.path) is None
    )
    key = f"rewritten/{file.repo}/{file.path}"
    sandbox.org.content.add_literal(key, data)
    file.content_key, file.size = key, len(data)
    return file


async def test_a_file_changed_at_the_source_replaces_the_copy_an_earlier_run_wrote(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)  # default: every path is probed first
        first = await run_migration(settings, phases=ALL)
        assert first.counts is not None
        sent = len(artifact_uploads(sandbox))
        new = b"the second upload of this file, other bytes and size"
        changed = _rewrite_at_source(sandbox, new)
        again = await run_migration(settings, phases=ALL)
        assert again.counts is not None
        assert again.counts[ItemState.DONE].items == first.counts[ItemState.DONE].items
        assert artifact_uploads(sandbox)[sent:] == [f"{changed.repo}/{changed.path}"]
        stored = sandbox.artifactory.item(changed.repo, changed.path)
        assert stored is not None
        assert (stored.size, stored.sha256) == (len(new), hashlib.sha256(new).hexdigest())
        async with await _admin(sandbox) as http:
            url = f"{sandbox.endpoints.artifactory_url}/{changed.repo}/{changed.path}"
            async with http.get(url.replace(" ", "%20")) as response:
                assert await response.read() == new
        async with open_store(settings, readonly=True) as store:
            item = await store.get_item(changed.repo, changed.path)
        assert item is not None
        assert (item.state, item.how) == (ItemState.DONE, "replaced_own_copy")
        assert (await verify(settings)).clean


async def test_a_changed_file_whose_copy_someone_else_replaced_is_a_conflict(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        changed = _rewrite_at_source(sandbox, b"new content at the source")
        await _put_as_someone_else(sandbox, changed.repo, changed.path)
        summary = await run_migration(settings, phases=ALL)
        assert summary.counts is not None
        assert summary.counts[ItemState.CONFLICT].items == 1
        stored = sandbox.artifactory.item(changed.repo, changed.path)
        assert stored is not None
        assert stored.sha256 == hashlib.sha256(b"someone else's").hexdigest()


async def test_verify_keeps_its_database_whichever_worker_thread_serves_it(tmp_path: Path) -> None:
    # The audit's temporary SQLite file is used from anyio's worker threads; with other work
    # on those threads meanwhile (an embedding application's, a directory source's reads) a
    # call may land on another thread than the one that opened it.
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=ALL)
        async with anyio.create_task_group() as group:

            async def other_thread_work() -> None:
                while True:
                    await anyio.to_thread.run_sync(time.sleep, 0.002)

            group.start_soon(other_thread_work)
            audit = await verify(settings)
            group.cancel_scope.cancel()
        assert audit.clean, audit.error_details
        assert audit.same > 0
