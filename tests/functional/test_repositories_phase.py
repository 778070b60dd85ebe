"""The repositories phase against the emulators: local repositories of the right type with CDN
redirect, anonymous read on public repositories only, conflicts left alone, idempotent re-runs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from harness import run_migration, settings_for

from transfer.migrate.repositories import ANONYMOUS_READ_PERMISSION, RepoAction
from transfer.migrate.repositories_phase import (
    created_repositories,
    preview_repositories,
    run_repositories_phase,
)
from transfer.runner import open_source, open_store, open_target
from transfer.sandbox.artifactory import ArtifactoryOptions
from transfer.sandbox.bintray import BintrayOptions
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings
from transfer.targets.artifactory import ArtifactoryTarget

pytestmark = pytest.mark.anyio

EXPECTED = {
    # key: (packageType, repoLayoutRef)
    "releases": ("maven", "maven-2-default"),
    "debs": ("debian", "simple-default"),
    "conan": ("conan", "conan-default"),
    "internal": ("generic", "simple-default"),
}


def _admin_writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in sandbox.artifactory.request_log
        if r.method in ("PUT", "POST") and "/api/" in r.path
    ]


async def _side(settings: Settings, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
    async with open_store(settings, readonly=True) as store:
        return {r.key: (r.state, dict(r.detail)) async for r in store.iter_side(kind)}


async def test_repositories_created_local_typed_with_cdn_and_report_entries(
    tmp_path: Path,
) -> None:
    # Bintray reporting Debian as "deb" exercises the alias
    options = BintrayOptions(report_debian_as_deb=True)
    async with Sandbox("tiny", bintray_options=options) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        summary = await run_migration(settings, phases=("repositories",))
        configs = sandbox.artifactory.repositories()
        assert set(configs) == set(EXPECTED)
        for key, (package_type, layout) in EXPECTED.items():
            config = configs[key]
            assert config["rclass"] == "local"
            assert (config["packageType"], config["repoLayoutRef"]) == (package_type, layout)
            assert config["cdnRedirect"] is True
            assert config["description"] == sandbox.org.repos[key].desc
        writes = _admin_writes(sandbox)
        for key in EXPECTED:
            # created first, then CDN redirect switched on by an update, as the guide says
            create = writes.index(("PUT", f"/artifactory/api/repositories/{key}"))
            assert writes.index(("POST", f"/artifactory/api/repositories/{key}")) > create
        assert any("4 created" in note for note in summary.notes)

        records = await _side(settings, "repository")
        assert {k: v[0] for k, v in records.items()} == dict.fromkeys(EXPECTED, "created")
        unmigratable = await _side(settings, "unmigratable")
        product = unmigratable["product/widget-suite"][1]
        assert product["packages"] == sandbox.org.products["widget-suite"].packages
        assert product["instead"]
        assert "download-statistics" in unmigratable
        assert "anonymous-access" in unmigratable


async def test_anonymous_read_on_public_repositories_only(tmp_path: Path) -> None:
    options = ArtifactoryOptions(anonymous_access=True, profile="cloud")
    async with Sandbox("tiny", artifactory_options=options) as sandbox:
        settings = settings_for(sandbox, tmp_path)
        summary = await run_migration(settings, phases=("repositories", "artifacts"))
        assert summary.counts is not None
        public = next(iter(sandbox.org.repos["releases"].packages.values())).versions[0].files[0]
        private = next(iter(sandbox.org.repos["internal"].packages.values())).versions[0].files[0]
        base = sandbox.endpoints.artifactory_url
        async with aiohttp.ClientSession() as anonymous:
            url = f"{base}/releases/{quote(public.path)}"
            async with anonymous.get(url) as response:
                assert response.status == 200
                body = await response.read()
            assert body == sandbox.org.content.read(
                public.content_key, public.size, kind=public.kind
            )
            async with anonymous.get(f"{base}/internal/{quote(private.path)}") as response:
                assert response.status in (401, 403, 404)
            login = f"{sandbox.endpoints.artifactory_user}:{sandbox.endpoints.artifactory_password}"
            admin = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
            url = f"{base}/api/v2/security/permissions/{ANONYMOUS_READ_PERMISSION}"
            async with anonymous.get(url, headers=admin) as response:
                permission = await response.json()
        public_repos = sorted(r.name for r in sandbox.org.repos.values() if not r.private)
        assert permission["repo"]["repositories"] == public_repos
        assert permission["repo"]["actions"]["users"] == {"anonymous": ["read"]}


async def test_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=("repositories",))
        before = len(_admin_writes(sandbox))
        second = await run_migration(settings, phases=("repositories",))
        assert len(_admin_writes(sandbox)) == before
        [note] = [n for n in second.notes if n.startswith("repositories:")]
        assert "0 created" in note
        assert "4 unchanged" in note
        assert "nothing changed" in note
        records = await _side(settings, "repository")
        assert {k: v[0] for k, v in records.items()} == dict.fromkeys(EXPECTED, "kept")
        # still known as created by this migration, so the copy workers skip probing there
        async with open_store(settings, readonly=True) as store:
            assert await created_repositories(store) == set(EXPECTED)


async def test_incompatible_repository_is_a_conflict_and_left_unchanged(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        sandbox.artifactory.create_repository("releases", "generic", description="theirs")
        sandbox.artifactory.create_repository("conan", "conan", description="ours already")
        before = sandbox.artifactory.repositories()
        settings = settings_for(sandbox, tmp_path)
        summary = await run_migration(settings, phases=("repositories", "artifacts"))
        after = sandbox.artifactory.repositories()
        assert after["releases"] == before["releases"]
        # and nothing is copied into it
        assert sandbox.artifactory.files("releases") == []
        assert summary.discovery is not None
        assert "releases" in summary.discovery.unmappable_repos
        assert sandbox.artifactory.files("conan")
        # the compatible one is kept, with CDN redirect switched on and nothing else changed
        assert after["conan"] == {**before["conan"], "cdnRedirect": True}
        assert not any("/releases" in path for _, path in _admin_writes(sandbox))
        assert any("1 conflicts" in note for note in summary.notes)
        records = await _side(settings, "repository")
        assert records["releases"][0] == "conflict"
        assert "generic" in str(records["releases"][1]["reason"])
        assert records["conan"][1]["created"] is False
        unmigratable = await _side(settings, "unmigratable")
        assert "repository-conflict/releases" in unmigratable
        async with open_store(settings, readonly=True) as store:
            assert await created_repositories(store) == {"debs", "internal"}
        # a conflicting public repository is not opened to anonymous users
        permissions = await _side(settings, "anonymous_read")
        assert "releases" not in permissions[ANONYMOUS_READ_PERMISSION][1]["repositories"]


async def test_preview_plans_without_writing(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        sandbox.artifactory.create_repository("conan", "generic")
        settings = settings_for(sandbox, tmp_path)
        async with open_source(settings) as source, open_target(settings) as target:
            assert isinstance(target, ArtifactoryTarget)
            preview = await preview_repositories(
                source, target.admin, subject=settings.source.subject, repo_key_template="{repo}"
            )
        assert _admin_writes(sandbox) == []
        actions = {p.key: p.action for p in preview.plans}
        assert actions == {
            "releases": RepoAction.CREATE,
            "debs": RepoAction.CREATE,
            "conan": RepoAction.CONFLICT,
            "internal": RepoAction.CREATE,
        }
        assert preview.permission.repositories == ("debs", "releases")
        shown = preview.as_dict()
        assert shown["repositories"][0]["config"]["packageType"] == "maven"
        kinds = {entry["category"] for entry in shown["cannot_move"]}
        assert kinds == {"repository_conflict", "statistics", "product"}


async def test_demo_organisation_every_type(tmp_path: Path) -> None:
    async with Sandbox("demo") as sandbox:
        await run_migration(settings_for(sandbox, tmp_path), phases=("repositories",))
        configs = sandbox.artifactory.repositories()
        kinds = {repo.type for repo in sandbox.org.repos.values()}
        assert {"maven", "debian", "rpm", "npm", "nuget", "conan", "docker", "vagrant"} <= kinds
        for repo in sandbox.org.repos.values():
            config = configs[repo.name]
            assert config["packageType"] == repo.type, repo.name
            assert config["cdnRedirect"] is True
            assert config["rclass"] == "local"


class IgnoresCdnRedirect:
    """The real admin client, on a server that silently drops ``cdnRedirect`` (not Cloud)."""

    def __init__(self, admin: Any) -> None:
        self._admin = admin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._admin, name)

    async def update_repository(self, key: str, changes: Mapping[str, Any]) -> None:
        kept = {k: v for k, v in changes.items() if k != "cdnRedirect"}
        await self._admin.update_repository(key, kept)


async def test_target_without_cdn_redirect_is_reported_and_still_used(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        async with (
            open_source(settings) as source,
            open_target(settings) as target,
            open_store(settings) as store,
        ):
            assert isinstance(target, ArtifactoryTarget)
            result = await run_repositories_phase(
                source,
                IgnoresCdnRedirect(target.admin),
                store,
                subject=settings.source.subject,
                repo_key_template="{repo}",
            )
            assert sorted(result.created) == sorted(EXPECTED)
            assert set(result.cdn_unsupported) == set(EXPECTED)
            assert await created_repositories(store) == set(EXPECTED)
        assert all(c["cdnRedirect"] is False for c in sandbox.artifactory.repositories().values())
        unmigratable = await _side(settings, "unmigratable")
        entry = unmigratable["cdn-redirect/releases"][1]
        assert "did not keep cdnRedirect" in entry["what"]
        assert "MyJFrog" in entry["instead"]
