"""A failure that hits every file is a run failure (issue 17 §3): the per-service circuit breaker
stops the run with exit code 3 and leaves the files pending; a service that cannot be used at all
(unknown subject, a URL without ``/artifactory``, refused credentials on ``verify``) ends in one
line with exit code 2 or 3, and a summary with failures says how to retry them."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import aiohttp
import anyio
import pytest
from reliability_kit import migrate_once, run_cli, sandbox_settings, store_rows, write_cli_config

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus, ItemFinished
from transfer.runner import migrate
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

_FAST = "\n[transfer]\nmax_attempts = 2\nbackoff_base = 0.01\nbackoff_max = 0.05\n"


async def test_a_target_killed_mid_run_stops_the_run_and_leaves_files_pending(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as source:
        target = Sandbox("tiny")
        await target.start()
        url = target.endpoints.artifactory_url
        port = int(url.split(":")[-1].split("/")[0])
        base = sandbox_settings(source, tmp_path, workers=2, breaker_threshold=4)
        settings = replace(base, target=replace(base.target, url=url))
        bus, first_done = EventBus(), anyio.Event()
        bus.subscribe(lambda event: first_done.set(), ItemFinished)

        async def kill_target() -> None:
            await first_done.wait()
            await target.stop()

        async with anyio.create_task_group() as group:
            group.start_soon(kill_target)
            summary = await migrate(
                settings,
                bus=bus,
                stop=StopControl(),
                phases=("repositories", "artifacts", "properties"),
            )
        assert summary.tripped is not None
        assert summary.tripped.service == "target"
        assert "cannot be reached" in summary.tripped.message()
        assert summary.phases == ["repositories", "artifacts"]  # properties never ran
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0
        assert summary.counts[ItemState.PENDING].items > 0
        # the target comes back (re-installed, empty, same URL): the next run completes
        async with Sandbox("tiny", ports=(0, 0, port)):
            again = await migrate_once(settings, phases=("repositories", "artifacts"))
        assert again.tripped is None
        assert again.counts is not None
        assert again.counts[ItemState.DONE].items == again.counts.total.items


async def test_a_download_url_at_the_wrong_service_stops_with_exit_3(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        text = config.read_text()
        wrong = sandbox.endpoints.artifactory_url  # answers 401 to the Bintray credentials
        config.write_text(text.replace(sandbox.endpoints.bintray_download_url, wrong))
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 3, result.out + result.err
        assert "Traceback" not in result.out + result.err
        stopped = [line for line in result.out.splitlines() if line.startswith("stopped:")]
        assert len(stopped) == 1
        assert f"the source ({wrong}) refused the credentials (HTTP 401)" in stopped[0]
        states = {row["state"] for row in store_rows(tmp_path / "state.db")}
        assert ItemState.FAILED.value not in states
        assert ItemState.PENDING.value in states


async def test_failures_left_say_how_to_retry_them(tmp_path: Path) -> None:
    async with Sandbox("tiny", faults="bintray.download:corrupt=1.0") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        result = await run_cli(
            "migrate", "-c", str(config), "--no-progress", "--only", "repositories", env=env
        )
        assert result.code == 0, result.out + result.err
        result = await run_cli(
            "migrate", "-c", str(config), "--no-progress", "--only", "artifacts", env=env
        )
        assert result.code == 1, result.out + result.err
        assert "`transfer migrate --retry-failed` tries them again" in result.out


async def test_an_unknown_subject_is_a_configuration_error(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        text = config.read_text().replace(
            f'subject = "{sandbox.endpoints.org_name}"', 'subject = "no-such-org"'
        )
        config.write_text(text)
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        result.assert_clean_error(2, "source.subject 'no-such-org' was not found")


async def test_a_target_url_without_artifactory_is_unusable(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        url = sandbox.endpoints.artifactory_url
        config.write_text(config.read_text().replace(url, url.removesuffix("/artifactory")))
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        result.assert_clean_error(3, "404", "/artifactory")


async def test_verify_with_refused_credentials_exits_3(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        await migrate_once(sandbox_settings(sandbox, tmp_path))
        env = {**env, "TRANSFER_ARTIFACTORY_PASSWORD": "not-the-password"}
        result = await run_cli("verify", "-c", str(config), env=env)
        result.assert_clean_error(3, "401")


async def test_a_security_phase_that_cannot_create_anything_exits_1(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST)
        e = sandbox.endpoints
        login = base64.b64encode(f"{e.artifactory_user}:{e.artifactory_password}".encode())
        headers = {"Authorization": f"Basic {login.decode()}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            body = {"email": "reader@example.com", "password": "Reader-pass-1", "admin": False}
            url = f"{e.artifactory_url}/api/security/users/reader"
            async with http.put(url, json=body) as response:
                assert response.status == 201
        text = config.read_text().replace(f'user = "{e.artifactory_user}"', 'user = "reader"')
        config.write_text(text)
        env = {**env, "TRANSFER_ARTIFACTORY_PASSWORD": "Reader-pass-1"}
        result = await run_cli(
            "migrate", "-c", str(config), "--no-progress", "--only", "security", env=env
        )
        assert result.code == 1, result.out + result.err
        assert "permission targets" in result.out
        assert "`transfer migrate` tries them again" in result.out
