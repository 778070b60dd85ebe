"""Artifactory → Artifactory specifics, on a seeded source emulator and an empty target:
repository configurations, properties with the source's provenance, users/groups/permission
targets, incremental listing, a conflicting target repository, and the refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp import web
from migration_cases import finish_cli_config

from transfer.config_load import load_settings
from transfer.errors import UnusableService
from transfer.migrate.unmigratable import UNMIGRATABLE
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import PHASES, MigrationSummary, migrate
from transfer.runner.wiring import open_store
from transfer.sandbox.artifactory_pair import ArtifactoryPair, write_pair_config
from transfer.settings import Settings
from transfer.sources.artifactory import PROVENANCE_PROPERTIES

pytestmark = pytest.mark.anyio


def _settings(pair: ArtifactoryPair, workdir: Path, **source: str) -> Settings:
    config = workdir / "transfer.toml"
    write_pair_config(pair.endpoints, config, store_path=str(workdir / "state.db"))
    config, env = finish_cli_config(config, workdir)
    return load_settings(config, environ=env, overrides={"source": source} if source else None)


async def _migrate(settings: Settings, phases: tuple[str, ...] = PHASES) -> MigrationSummary:
    return await migrate(settings, bus=EventBus(), stop=StopControl(), phases=phases)


async def test_configuration_properties_and_security_arrive(tmp_path: Path) -> None:
    async with ArtifactoryPair(seed=3) as pair:
        summary = await _migrate(_settings(pair, tmp_path))
        assert summary.counts is not None
        assert summary.counts[ItemState.DONE].items == len(pair.content.files)

        repos = pair.target.repositories()
        maven = repos["libs-release-local"]
        assert (maven["rclass"], maven["packageType"]) == ("local", "maven")
        assert maven["handleSnapshots"] is False
        assert maven["checksumPolicyType"] == "server-generated-checksums"
        assert maven["excludesPattern"] == "**/*.tmp"
        assert maven["description"] == "Released libraries"
        assert repos["debian-local"]["debianTrivialLayout"] is True
        assert repos["maven-remote"]["url"] == "https://repo1.maven.org/maven2/"
        assert repos["libs"]["repositories"] == ["libs-release-local", "maven-remote"]

        for file in pair.content.files:
            on_target = pair.target.properties(file.repo, file.path)
            for key, values in file.properties.items():
                assert on_target[key] == values, (file.path, key)
            assert on_target[PROVENANCE_PROPERTIES["created_by"]] == [file.created_by]
            assert on_target[PROVENANCE_PROPERTIES["created"]][0].startswith("201")  # 2017/18

        auth = {"Authorization": aiohttp.encode_basic_auth("admin", "password")}
        base = pair.endpoints.target_url
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.get(f"{base}/api/security/users/ci-bot") as resp:
                bot = await resp.json()
            async with http.get(f"{base}/api/security/groups/developers?includeUsers=true") as r:
                developers = await r.json()
            async with http.get(f"{base}/api/v2/security/permissions/dev-write") as resp:
                permission = await resp.json()
        assert bot["internalPasswordDisabled"] is True
        assert sorted(developers["userNames"]) == ["alice", "bob"]
        assert permission["repo"]["actions"]["users"] == {"ci-bot": ["read", "write"]}
        granted = permission["repo"]["actions"]["groups"]["developers"]
        assert sorted(granted) == ["annotate", "read", "write"]
        assert permission["repo"]["exclude-patterns"] == ["**/secret/**"]
        secrets = tmp_path / "secrets.json"
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        held = json.loads(secrets.read_text())["users"]
        assert set(held) == {"alice", "bob"}  # ci-bot signs in another way


async def test_a_rerun_lists_only_what_changed_since_the_last_pass(tmp_path: Path) -> None:
    async with ArtifactoryPair(seed=4) as pair:
        settings = _settings(pair, tmp_path)
        phases = ("artifacts",)
        for config in pair.content.repositories:
            if config["rclass"] == "local":
                pair.target.create_repository(config["key"], config["packageType"])
        # The pass begins at the source's Date header (whole seconds, rounded down): files
        # updated in that same second are listed again next time (safe, never missed).
        await anyio.sleep(1.1)
        first = await _migrate(settings, phases)
        assert first.discovery is not None
        assert first.discovery.files == len(pair.content.files)
        second = await _migrate(settings, phases)
        assert second.discovery is not None
        assert second.discovery.files == 0
        e = pair.endpoints
        auth = {"Authorization": aiohttp.encode_basic_auth(e.source_user, e.source_password)}
        async with aiohttp.ClientSession(headers=auth, raise_for_status=True) as http:
            await http.put(f"{e.source_url}/generic-local/new/file.txt", data=b"new")
            await http.delete(f"{e.source_url}/generic-local/readme.txt")
        third = await _migrate(settings, phases)
        assert third.discovery is not None
        assert third.discovery.files == 1
        assert pair.target.item("generic-local", "new/file.txt") is not None
        # the deletion is reported, never applied
        assert pair.target.item("generic-local", "readme.txt") is not None
        async with open_store(settings, readonly=True) as store:
            reported = [r.key async for r in store.iter_side(UNMIGRATABLE)]
        assert "deleted-in-source/generic-local/readme.txt" in reported


async def test_a_target_repository_of_another_type_is_a_conflict(tmp_path: Path) -> None:
    async with ArtifactoryPair(seed=5) as pair:
        pair.target.create_repository("debian-local", "generic")
        summary = await _migrate(_settings(pair, tmp_path))
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0
        assert pair.target.files("debian-local") == []
        assert any("1 conflicts" in note for note in summary.notes), summary.notes


async def test_a_source_user_without_admin_rights_is_refused_for_security(tmp_path: Path) -> None:
    async with ArtifactoryPair(seed=6) as pair:
        settings = _settings(pair, tmp_path, user="alice", password="Seed-alice-Passw0rd!")
        with pytest.raises(UnusableService, match="needs an admin token or user on the source"):
            await _migrate(settings, ("security",))


async def test_a_source_too_old_is_refused_in_one_line(tmp_path: Path) -> None:
    async def old(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/api/system/ping"):
            return web.Response(text="OK")
        return web.json_response({"version": "6.2.0"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", old)
    server = web.AppRunner(app)
    await server.setup()
    await web.TCPSite(server, "127.0.0.1", 0).start()
    try:
        port = server.addresses[0][1]
        async with ArtifactoryPair(seed=7) as pair:
            settings = _settings(pair, tmp_path, url=f"http://127.0.0.1:{port}/artifactory")
            with pytest.raises(UnusableService, match=r"the source Artifactory 6\.2\.0 is too old"):
                await _migrate(settings, ("artifacts",))
    finally:
        await server.cleanup()
