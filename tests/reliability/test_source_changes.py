"""The source changes under the run (issue 15): a file re-uploaded between listing and download
is recognised as changed at the source, listed again, and its new content lands; a file,
version or package deleted, or a repository renamed, ends ``skipped`` "gone from the source"
(not retried, not a failure); a repository made private goes on for a member. Each change is
made through the Bintray emulator's mutation API after ``plan`` recorded the listing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from reliability_kit import migrate_once, sandbox_settings, store_rows

from transfer.models import ItemState
from transfer.reporting.events import EventBus
from transfer.runner import plan
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

_PHASES = ("repositories", "artifacts")


async def _listed(settings: Settings, workdir: Path) -> None:
    """Discovery records every file in the store (nothing copied yet), and the store reads as
    if the process was stopped right after listing: the next run resumes that listing instead
    of starting a new one, so what changes at the source now is met by the copy, not listed."""
    await plan(settings, bus=EventBus())
    db = sqlite3.connect(workdir / "state.db")
    try:
        with db:
            db.execute("DELETE FROM meta WHERE key = 'discovery_pass_complete'")
    finally:
        db.close()


def _rows_by_path(workdir: Path) -> dict[str, dict[str, object]]:
    return {str(row["path"]): row for row in store_rows(workdir / "state.db")}


async def test_a_file_replaced_after_listing_lands_with_its_new_content(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2)
        await _listed(settings, tmp_path)
        path = "c++ utils/0.1/100% done.bin"
        new = b"re-uploaded after the listing\n" * 300
        sandbox.bintray.replace_file("internal", path, new)

        summary = await migrate_once(settings, phases=_PHASES)
        assert summary.tripped is None
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0
        assert summary.counts[ItemState.DONE].items == summary.counts.total.items
        row = _rows_by_path(tmp_path)[path]
        assert row["sha1"] == hashlib.sha1(new).hexdigest()  # the store took the new facts
        assert row["size"] == len(new)
        landed = sandbox.artifactory.item("internal", path)
        assert landed is not None
        assert landed.sha1 == hashlib.sha1(new).hexdigest()


async def test_files_versions_and_packages_deleted_at_the_source_are_skipped(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2, max_attempts=3)
        await _listed(settings, tmp_path)
        bintray = sandbox.bintray
        bintray.delete_file("internal", "c++ utils/0.2/a:b@c (copy).bin")
        bintray.delete_version("internal", "c++ utils", "0.1")
        bintray.delete_package("debs", "widget-doc")
        gone = {
            "c++ utils/0.2/a:b@c (copy).bin",
            "c++ utils/0.1/100% done.bin",
            "c++ utils/0.1/user@host~backup.tar.gz",
            "pool/main/w/widget-doc/widget-doc_1.0-1_all.deb",
        }

        summary = await migrate_once(settings, phases=_PHASES)
        assert summary.tripped is None
        assert summary.unfinished == 0  # nothing failed, nothing left pending
        rows = _rows_by_path(tmp_path)
        skipped = {p for p, row in rows.items() if row["state"] == ItemState.SKIPPED.value}
        assert skipped == gone
        # 0.1's LICENSE.txt has the bytes of 0.2's: linked by checksum, it needs no download
        assert rows["c++ utils/0.1/LICENSE.txt"]["how"] in ("checksum_deploy", "dedup")
        for path in gone:
            assert str(rows[path]["last_error"]).startswith("gone from the source"), rows[path]
            assert rows[path]["attempts"] <= 1  # not retried as if the download were flaky
        assert all(row["state"] == ItemState.DONE.value for p, row in rows.items() if p not in gone)


async def test_a_repository_renamed_or_made_private_mid_run(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2)
        await migrate_once(settings, phases=("repositories",))
        await _listed(settings, tmp_path)
        sandbox.bintray.rename_repository("conan", "conan-2")
        sandbox.bintray.make_private("debs")

        # the renamed repository is a new one to this run: created, listed and copied
        summary = await migrate_once(settings, phases=_PHASES)
        assert summary.tripped is None
        assert summary.unfinished == 0
        rows = store_rows(tmp_path / "state.db")
        assert sum(row["repo"] == "conan-2" for row in rows) == 4
        for row in rows:
            if row["repo"] == "conan":
                assert row["state"] == ItemState.SKIPPED.value
                assert "cannot be listed any more (deleted, renamed or made private" in str(
                    row["last_error"]
                )
            else:  # a private repository is still readable by the member migrating it
                assert row["state"] == ItemState.DONE.value, row
