"""The README's "Use" section, followed word for word against the emulators: copy the example
config, set the keys it says to set, export the variables it names, run each command it lists.
The only liberty taken: the sandbox stands in for api.bintray.com and the Artifactory URL."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import anyio
import pytest

from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio
REPO_ROOT = Path(__file__).resolve().parents[2]


def _use_section() -> list[str]:
    """The shell lines of the README's "Use" block, comments stripped."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def _exported(lines: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for line in lines if line.startswith("export ")
            for word in shlex.split(line)[1:]]  # fmt: skip


def _set_key(text: str, table: str, key: str, value: str) -> str:
    """Set ``key`` in ``[table]`` of the example (uncommenting it), as a user's editor would."""
    head, _, rest = text.partition(f"[{table}]\n")
    body, sep, tail = rest.partition("\n[")
    pattern = re.compile(rf"^#? ?{key} = .*$", re.MULTILINE)
    assert pattern.search(body), (table, key)
    body = pattern.sub(f"{key} = {json.dumps(value)}", body, count=1)
    return f"{head}[{table}]\n{body}{sep}{tail}"


def test_readme_and_example_config_name_the_same_variables() -> None:
    example = (REPO_ROOT / "config.example.toml").read_text(encoding="utf-8")
    active = {
        name
        for line in example.splitlines()
        if not line.lstrip().startswith("#")
        for name in re.findall(r"\$\{([A-Z_]+)\}", line.split("#", 1)[0])
    }
    assert set(_exported(_use_section())) == active


async def _admin_token(sandbox: Sandbox) -> str:
    endpoints = sandbox.endpoints
    root = endpoints.artifactory_url.removesuffix("/artifactory")
    login = f"{endpoints.artifactory_user}:{endpoints.artifactory_password}"
    auth = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
    async with (
        aiohttp.ClientSession(headers=auth) as http,
        http.post(
            f"{root}/access/api/v1/tokens", json={"scope": "applied-permissions/admin"}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
        return token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _serve_answers(words: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run ``transfer status --serve ADDR`` until its page answers, then Ctrl-C it."""
    url = f"http://{words[words.index('--serve') + 1]}/"
    async with await anyio.open_process(
        [sys.executable, "-m", "transfer", *words[1:]], env=env, cwd=cwd
    ) as process:
        try:
            with anyio.fail_after(60):
                while True:
                    try:
                        async with aiohttp.ClientSession() as http, http.get(url) as page:
                            if page.status == 200 and "<html" in (await page.text()).lower():
                                break
                    except aiohttp.ClientError:
                        pass
                    await anyio.sleep(0.2)
        finally:
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                await process.wait()


async def test_the_use_section_works_word_for_word(tmp_path: Path) -> None:
    lines = _use_section()
    async with Sandbox("tiny") as sandbox:
        endpoints = sandbox.endpoints
        values = {
            "TRANSFER_BINTRAY_API_KEY": endpoints.bintray_api_key,
            "TRANSFER_ARTIFACTORY_TOKEN": await _admin_token(sandbox),
        }
        env = dict(os.environ)
        ran = []
        for line in lines:
            words = shlex.split(line)
            if words[0] == "cp":
                shutil.copy(REPO_ROOT / words[1], tmp_path / words[2])
                config = tmp_path / words[2]
                text = config.read_text(encoding="utf-8")
                # the keys the README says to set (and the sandbox's Bintray hosts)
                for table, key, value in (
                    ("source", "subject", endpoints.org_name),
                    ("source", "user", endpoints.bintray_user),
                    ("source", "api_url", endpoints.bintray_api_url),
                    ("source", "download_url", endpoints.bintray_download_url),
                    ("target", "url", endpoints.artifactory_url),
                ):
                    text = _set_key(text, table, key, value)
                config.write_text(text, encoding="utf-8")
            elif words[0] == "export":
                env.update({name: values[name] for name in _exported([line])})
            elif "--serve" in words:
                # a server runs until stopped: on a free port (8080 may be taken), the page
                # must answer; then it is stopped as a user would, with Ctrl-C
                words[words.index("--serve") + 1] = f"127.0.0.1:{_free_port()}"
                await _serve_answers(words, env, tmp_path)
                ran.append("status --serve")
            else:
                assert words[0] == "transfer", line
                with anyio.fail_after(120):
                    result = await anyio.run_process(
                        [sys.executable, "-m", "transfer", *words[1:], "--no-progress"]
                        if words[1] == "migrate"
                        else [sys.executable, "-m", "transfer", *words[1:]],
                        env=env,
                        cwd=tmp_path,
                        check=False,
                    )
                err = result.stderr.decode()
                assert result.returncode == 0, f"{line}: exit {result.returncode}\n{err[-2000:]}"
                assert "error" not in err.lower(), err
                ran.append(words[1])
    assert ran == ["plan", "migrate", "status", "status --serve", "verify", "report"]
    assert (tmp_path / "transfer-report" / "report.md").is_file()
