"""Linked packages: Bintray lists them in the linking repository, Artifactory gets them once.

The tiny organisation links ``releases``' json-parser into ``internal``. Its files must land in
``releases`` only, verify must be clean, the report must name the link with what to do, and the
URL map must send the linking repository's old URLs to the one copy.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from harness import create_target_repos, done_count, run_migration, settings_for

from transfer.migrate.urlmap import URL_MAP_NAME
from transfer.runner import report, verify
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio


async def test_linked_package_is_copied_once_reported_verified_and_mapped(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        package = sandbox.org.repos["releases"].packages["json-parser"]
        assert package.linked_to_repos == ["internal"]
        linked_paths = [f.path for v in package.versions for f in v.files]
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        summary = await run_migration(settings)
        assert done_count(summary) == sum(1 for _ in sandbox.org.iter_files())
        assert summary.discovery is not None
        assert summary.discovery.links == 1
        for path in linked_paths:
            assert sandbox.artifactory.item("releases", path) is not None
            assert sandbox.artifactory.item("internal", path) is None

        audit = await verify(settings)
        assert audit.clean
        assert (audit.same, audit.only_in_target) == (done_count(summary), 0)

        paths = await report(settings)
        markdown = paths.markdown.read_text()
        assert "package json-parser of repository releases was linked into internal" in markdown
        # releases is Maven, internal generic: no virtual repository can join them
        assert "A virtual repository cannot join releases (maven) and internal (generic)" in (
            markdown
        )
        data = json.loads(paths.json.read_text())
        links = [
            e for e in data["side_tasks"]["unmigratable"] if e.get("category") == "linked_package"
        ]
        assert [(e["owner_repo"], e["linked_repo"], e["copied"], e["advice"]) for e in links] == [
            ("releases", "internal", True, "copy")
        ]

        with (settings.report.output_dir / URL_MAP_NAME).open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        dl = sandbox.endpoints.bintray_download_url.rstrip("/")
        for path in linked_paths:
            mapped = {r["bintray_url"]: r["artifactory_url"] for r in rows if r["path"] == path}
            assert set(mapped) == {f"{dl}/acme/releases/{path}", f"{dl}/acme/internal/{path}"}
            assert {url.split("/artifactory/")[1] for url in mapped.values()} == {
                f"releases/{path}"
            }
