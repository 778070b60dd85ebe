"""The sandbox runner: both emulators on loopback, their URLs, credentials and config file."""

from __future__ import annotations

import asyncio
import socket
import stat
import subprocess
import tomllib
from pathlib import Path

import aiohttp
import pytest

from transfer.sandbox.serve import (
    ARTIFACTORY_PASSWORD_ENV,
    BINTRAY_KEY_ENV,
    Sandbox,
    SandboxEndpoints,
    ServeOptions,
    config_environment,
    env_path,
    serve_until_stopped,
    write_config,
)

pytestmark = pytest.mark.anyio


async def _get_org(session: aiohttp.ClientSession, endpoints: SandboxEndpoints) -> int:
    auth = aiohttp.encode_basic_auth(endpoints.bintray_user, endpoints.bintray_api_key)
    url = f"{endpoints.bintray_api_url}/orgs/{endpoints.org_name}"
    async with session.get(url, headers={"Authorization": auth}) as response:
        if response.status == 200:
            assert (await response.json())["name"] == endpoints.org_name
        return response.status


async def _ping(session: aiohttp.ClientSession, endpoints: SandboxEndpoints) -> str:
    auth = aiohttp.encode_basic_auth(endpoints.artifactory_user, endpoints.artifactory_password)
    url = f"{endpoints.artifactory_url}/api/system/ping"
    async with session.get(url, headers={"Authorization": auth}) as response:
        assert response.status == 200
        return await response.text()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


async def test_serve_prints_working_urls_writes_config_and_stops(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.toml"
    ready: list[SandboxEndpoints] = []
    stop = asyncio.Event()
    options = ServeOptions(profile="tiny", seed=5, write_config=config, store_path="state.db")

    async def serve() -> None:
        await serve_until_stopped(options, on_ready=ready.append, stop=stop)

    task = asyncio.create_task(serve())
    try:
        while not ready:
            assert not task.done(), task
            await asyncio.sleep(0.01)
        endpoints = ready[0]
        assert endpoints.artifactory_url.endswith("/artifactory")
        async with aiohttp.ClientSession() as session:
            assert await _get_org(session, endpoints) == 200
            assert await _ping(session, endpoints) == "OK"

        written = tomllib.loads(config.read_text())
        assert written["source"] == {
            "type": "bintray",
            "api_url": endpoints.bintray_api_url,
            "download_url": endpoints.bintray_download_url,
            "subject": endpoints.org_name,
            "user": endpoints.bintray_user,
            "api_key": "${" + BINTRAY_KEY_ENV + "}",
        }
        assert written["target"]["url"] == endpoints.artifactory_url
        assert written["target"]["password"] == "${" + ARTIFACTORY_PASSWORD_ENV + "}"
        assert written["store"] == {"path": "state.db"}
        values = {v for table in written.values() for v in table.values()}
        assert endpoints.bintray_api_key not in config.read_text()
        assert endpoints.artifactory_password not in values

        secrets = env_path(config)
        assert secrets.name == "sandbox.toml.env"
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        lines = secrets.read_text().splitlines()
        assert f"export {BINTRAY_KEY_ENV}={endpoints.bintray_api_key}" in lines
        assert f"export {ARTIFACTORY_PASSWORD_ENV}={endpoints.artifactory_password}" in lines
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    # stopped cleanly: every port is free again
    for url in (endpoints.bintray_api_url, endpoints.bintray_download_url):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", _port(url)))


async def test_faults_reach_one_emulator_and_switch_off(tmp_path: Path) -> None:
    async with Sandbox("tiny", seed=2, faults="bintray.api:503=1", storage_dir=tmp_path) as sb:
        endpoints = sb.endpoints
        async with aiohttp.ClientSession() as session:
            assert await _get_org(session, endpoints) == 503
            assert await _ping(session, endpoints) == "OK"  # Artifactory untouched
            sb.faults.disable()
            assert await _get_org(session, endpoints) == 200
        assert sb.faults.injected[("bintray.api", "503")] == 1
        assert sb.bintray.download_base_url == endpoints.bintray_download_url
    with pytest.raises(RuntimeError):
        _ = sb.endpoints


def test_existing_env_file_is_narrowed_to_0600(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    env_path(config).write_text("old")
    env_path(config).chmod(0o644)
    endpoints = SandboxEndpoints(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3/artifactory",
        'we"ird\\user', "key with 'quotes' $x", "admin", "pa ss", "acme",
    )  # fmt: skip
    write_config(endpoints, config)
    assert stat.S_IMODE(env_path(config).stat().st_mode) == 0o600
    assert tomllib.loads(config.read_text())["source"]["user"] == 'we"ird\\user'
    assert "old" not in env_path(config).read_text()
    # the export lines survive a real shell
    shown = subprocess.run(
        ["bash", "-c", f'. "$1" && printf %s "${BINTRAY_KEY_ENV}"', "-", str(env_path(config))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "key with 'quotes' $x"


async def test_download_faults_hit_the_bintray_download_host() -> None:
    async with Sandbox("tiny", seed=3, faults="bintray.download:truncate=1x1") as sb:
        endpoints = sb.endpoints
        file = max(sb.org.iter_files(), key=lambda f: f.size if f.published else -1)
        url = f"{endpoints.bintray_download_url}/{endpoints.org_name}/{file.repo}/{file.path}"
        auth = aiohttp.encode_basic_auth(endpoints.bintray_user, endpoints.bintray_api_key)
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:

            async def fetch() -> bytes:
                async with session.get(url) as response:
                    assert response.status == 200
                    return await response.read()

            with pytest.raises(aiohttp.ClientPayloadError):
                await fetch()
            body = await fetch()
        assert len(body) == file.size
        assert sb.faults.count("truncate", "download") == 1


async def test_the_sandbox_enforces_jfrog_clouds_rules_unless_asked_not_to() -> None:
    body = {"email": "x@example.com", "password": "Secret-1"}
    for kwargs, status in (({}, 400), ({"target_profile": "self-hosted"}, 201)):
        async with Sandbox("tiny", **kwargs) as sb:
            e = sb.endpoints
            auth = {
                "Authorization": aiohttp.encode_basic_auth(
                    e.artifactory_user, e.artifactory_password
                )
            }
            async with (
                aiohttp.ClientSession(headers=auth) as session,
                session.put(f"{e.artifactory_url}/api/security/users/Upper", json=body) as resp,
            ):
                assert resp.status == status
    assert ServeOptions().target_profile == "cloud"
    with pytest.raises(ValueError, match="plan"):
        Sandbox("tiny", plan="free")


async def test_the_artifactory_profile_serves_a_seeded_source_and_an_empty_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "a2a.toml"
    stop = asyncio.Event()
    options = ServeOptions(profile="artifactory", write_config=config, file_count=2)
    task = asyncio.create_task(serve_until_stopped(options, stop=stop))
    try:
        while "target login" not in capsys.readouterr().out:
            assert not task.done(), task
            await asyncio.sleep(0.05)
        written = tomllib.loads(config.read_text())
        assert written["source"]["type"] == "artifactory"
        assert written["source"]["password"] == "${TRANSFER_SOURCE_PASSWORD}"
        environ = config_environment(config)
        source, target = written["source"], written["target"]
        query = 'items.find({"repo":"libs-release-local"})'
        async with aiohttp.ClientSession() as session:
            auth = aiohttp.encode_basic_auth(source["user"], environ["TRANSFER_SOURCE_PASSWORD"])
            async with session.post(
                f"{source['url']}/api/search/aql",
                data=query,
                headers={"Authorization": auth, "Content-Type": "text/plain"},
            ) as response:
                assert len((await response.json())["results"]) == 4  # 2 versions, 2 files each
            auth = aiohttp.encode_basic_auth(
                target["user"], environ["TRANSFER_ARTIFACTORY_PASSWORD"]
            )
            async with session.get(
                f"{target['url']}/api/repositories", headers={"Authorization": auth}
            ) as response:
                assert await response.json() == []
    finally:
        stop.set()
        await task
