"""``transfer signed-urls`` end to end: Bintray URLs and paths in, Artifactory signed URLs out
(CSV and JSON), refusals with reasons for files that were not migrated, and URLs that stop
working when the signing key is replaced."""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import stat
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest
from harness import REPO_ROOT, create_target_repos, run_migration, settings_for, write_cli_config

from transfer.migrate.urlmap import bintray_url
from transfer.runner import open_store
from transfer.sandbox.orgdata import BintrayFile
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio


async def _transfer(*args: str, env: dict[str, str], stdin: bytes | None = None) -> tuple[int, str]:
    result = await anyio.run_process(
        [sys.executable, "-m", "transfer", *args],
        input=stdin,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    return result.returncode, result.stdout.decode() + result.stderr.decode()


def _files(sandbox: Sandbox, repo: str) -> list[BintrayFile]:
    return [f for f in sandbox.org.iter_files() if f.repo == repo]


async def test_signed_urls_download_until_the_key_is_replaced(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        create_target_repos(sandbox)
        settings = settings_for(sandbox, tmp_path)
        await run_migration(settings, phases=("artifacts",))
        release, other = _files(sandbox, "releases")[:2]
        private = next(f for f in _files(sandbox, "internal") if f.published)
        # a file the source changed after it was copied: re-opened, so not migrated (yet)
        async with open_store(settings) as store:
            item = await store.get_item(other.repo, other.path)
            assert item is not None
            await store.upsert_items([dataclasses.replace(item.spec, sha1="0" * 40)])
        e = sandbox.endpoints
        requests = [
            bintray_url(e.bintray_download_url, e.org_name, release.repo, release.path)
            + "?expiry=1&signature=old",
            f"internal/{private.path}",
            f"https://{e.org_name}.bintray.com/releases/{other.path}",
            f"{e.bintray_download_url}/{e.org_name}/releases/no/such/file.jar",
        ]
        config, env = write_cli_config(sandbox, tmp_path)
        out = tmp_path / "signed"
        code, output = await _transfer(
            "signed-urls", "-c", str(config), "--valid-for", "1h", "--out", str(out), "-",
            env=env,
            stdin="\n".join(["# handed out in 2020", *requests, ""]).encode(),
        )  # fmt: skip
        assert code == 1, output  # some were refused
        assert "signed: 2 of 4" in output
        assert "not migrated yet" in output
        assert "not part of this migration" in output
        assert "Traceback" not in output
        document = json.loads((out / "signed-urls.json").read_text())
        assert document["valid_for_secs"] == 3600
        assert set(document["map"]) == set(requests[:2])
        assert set(document["refused"]) == set(requests[2:])
        with (out / "signed-urls.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [r["request"] for r in rows] == requests
        for name in ("signed-urls.json", "signed-urls.csv"):
            assert stat.S_IMODE((out / name).stat().st_mode) == 0o600

        expected = sandbox.org.content.read(release.content_key, release.size, kind=release.kind)
        signed = document["map"][requests[0]]
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(signed) as response:
                assert response.status == 200
                assert await response.read() == expected
            async with anonymous.get(document["map"][requests[1]]) as response:
                assert response.status == 200  # a private repository, no credentials
            login = f"{e.artifactory_user}:{e.artifactory_password}"
            admin = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
            async with anonymous.post(
                f"{e.artifactory_url}/api/signed/url/key", headers=admin
            ) as response:
                assert response.status == 201
            async with anonymous.get(signed) as response:
                assert response.status in (401, 403)


async def test_signed_urls_rejects_a_bad_validity(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        code, output = await _transfer(
            "signed-urls", "-c", str(config), "--valid-for", "400d", "-", env=env, stdin=b""
        )
        assert code == 2
        assert "365 days" in output
        assert "Traceback" not in output
