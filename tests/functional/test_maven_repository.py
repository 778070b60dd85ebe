"""The Maven repository of the tiny organisation, migrated into a Maven repository the tool
creates: valid and inconsistent POMs, checksum files, and POMs held back until last."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from harness import assert_target_matches_source, done_count, run_migration, settings_for

from transfer.models import ItemState
from transfer.pipeline.planner import claim_phase
from transfer.runner import open_store, report, verify
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

PHASES = ("repositories", "artifacts")
SBT_POM = "com/acme/sbt-acme_2.12_1.0/0.3.1/sbt-acme-0.3.1.pom"


async def test_maven_repository_keeps_every_pom_and_serves_the_checksum_files(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        summary = await run_migration(settings, phases=PHASES)
        total = sum(1 for _ in sandbox.org.iter_files())
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0
        assert done_count(summary) == total
        config = sandbox.artifactory.repositories()["releases"]
        assert (config["packageType"], config["suppressPomConsistencyChecks"]) == ("maven", True)
        assert sandbox.artifactory.item("releases", SBT_POM) is not None
        assert_target_matches_source(sandbox)

        # files a target computes metadata from went after every other file of their version
        # (discovery goes on meanwhile, so another version's plain files may still come later)
        puts = [r.path for r in sandbox.artifactory.request_log if r.method == "PUT"]
        files = [p.split("/", 3)[3] for p in puts if p.startswith("/artifactory/")]
        by_folder: dict[str, list[int]] = {}
        for path in filter(None, files):
            by_folder.setdefault(path.rpartition("/")[0], []).append(claim_phase(path))
        assert any(1 in phases for phases in by_folder.values())
        for folder, phases in by_folder.items():
            assert phases == sorted(phases), folder

        # checksum files are checked, not stored; Artifactory serves the same values
        async with open_store(settings, readonly=True) as store:
            checked = [i async for i in store.iter_items() if i.how == "checksum_file"]
        assert sorted(i.spec.path.rsplit(".", 1)[1] for i in checked) == ["md5", "sha1"]
        e = sandbox.endpoints
        auth = aiohttp.encode_basic_auth(e.artifactory_user, e.artifactory_password)
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
            for item in checked:
                source = next(f for f in sandbox.org.iter_files() if f.path == item.spec.path)
                text = sandbox.org.content.read(source.content_key, source.size, kind="text")
                async with http.get(f"{e.artifactory_url}/releases/{item.spec.path}") as got:
                    assert (got.status, await got.text()) == (200, text.decode().split()[0])

        audit = await verify(settings)
        assert audit.clean
        assert (audit.same, audit.only_in_source, audit.only_in_target) == (total, 0, 0)


async def test_refused_pom_and_wrong_checksum_file_fail_in_their_own_categories(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        core = sandbox.org.repos["releases"].packages["core-lib"].versions[0]
        sha1_file = next(f for f in core.files if f.path.endswith(".jar.sha1"))
        sandbox.org.content.add_literal(sha1_file.content_key, b"0" * 40)
        settings = settings_for(sandbox, tmp_path)
        settings = replace(
            settings, target=replace(settings.target, suppress_pom_consistency_checks=False)
        )
        summary = await run_migration(settings, phases=PHASES)
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 2
        assert (
            sandbox.artifactory.repositories()["releases"]["suppressPomConsistencyChecks"] is False
        )
        assert sandbox.artifactory.item("releases", SBT_POM) is None

        paths = await report(settings)
        with paths.failures_csv.open(encoding="utf-8") as handle:
            failed = {row["path"]: row for row in csv.DictReader(handle)}
        assert set(failed) == {SBT_POM, sha1_file.path}
        pom = failed[SBT_POM]
        assert pom["http_status"] == "409"
        assert pom["reason"].startswith("pom_rejected: ")
        assert (
            "does not match the POM's expected path prefix 'com/acme/sbt-acme/0.3.1'"
            in (pom["reason"])
        )
        assert pom["attempts"] == "1"  # not retried: it would be refused again
        assert failed[sha1_file.path]["reason"].startswith(
            f"checksum_file_mismatch: {sha1_file.name} says {'0' * 40}"
        )
