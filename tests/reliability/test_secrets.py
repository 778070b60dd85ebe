"""No API key, password or token — configured or generated — appears in any output, log,
report, map, exception message or the store; the files that must hold secrets are 0600; TLS
checks are on unless turned off explicitly (which warns)."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import run_cli, write_cli_config

from transfer.config_load import settings_from_mapping
from transfer.migrate.secrets import generate_password
from transfer.redaction import Secret
from transfer.sandbox.artifactory import ArtifactoryOptions
from transfer.sandbox.generator import build_organization
from transfer.sandbox.orgdata import Organization
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio


def _env_secrets(env_file: Path) -> dict[str, str]:
    found = {}
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = value.strip("'")
    return found


def _generated(secrets_file: Path) -> list[str]:
    """Every password and token in the run's secrets file."""
    if not secrets_file.exists():
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("password", "access_token", "refresh_token") and value:
                    found.append(str(value))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(secrets_file.read_text()))
    return found


def _org_secrets(org: Organization) -> list[str]:
    """The source's own secrets: every user's API key, access keys' passwords, signing key."""
    return [
        *(user.api_key for user in org.users.values()),
        *(key.password for key in org.access_keys.values()),
        org.url_signing_key,
    ]


def _forms(secret: str, users: Iterable[str]) -> Iterator[bytes]:
    """The secret, and the Basic-auth header forms it could leak in."""
    yield secret.encode()
    for user in users:
        yield base64.b64encode(f"{user}:{secret}".encode())


def _assert_nowhere(secrets: Iterable[str], users: Iterable[str], texts: dict[str, bytes]) -> int:
    checked = 0
    wanted = [s for s in set(secrets) if len(s) >= 8]
    assert wanted
    for secret in wanted:
        for form in _forms(secret, users):
            for where, content in texts.items():
                assert form not in content, f"a secret leaks in {where}"
        checked += 1
    return checked


def _files(root: Path, *, skip: Iterable[Path]) -> dict[str, bytes]:
    """Every file under ``root`` (store, WAL, logs, reports, maps) but the secret holders."""
    skipped = {p.resolve() for p in skip}
    return {
        str(p): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.resolve() not in skipped
    }


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_demo_leaks_no_secret(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    log = tmp_path / "demo-log.jsonl"
    result = await run_cli(
        "demo", "--workdir", str(workdir), "--log-json", str(log), "-vv", "--no-progress",
        deadline=110,
    )  # fmt: skip
    assert result.code == 0, result.err[-3000:]
    env_file = workdir / "transfer.toml.env"
    secrets_file = workdir / "transfer-secrets.json"
    assert _mode(env_file) == 0o600
    assert _mode(secrets_file) == 0o600
    events = [json.loads(line).get("event") for line in log.read_text().splitlines()]
    assert "item_finished" in events  # the verbose log has a line per file
    configured = _env_secrets(env_file)
    # The demo's Artifactory emulator logs in as admin/"password": a word that appears in
    # logs for other reasons, so it proves nothing here (the test below uses a real secret).
    configured.pop("TRANSFER_ARTIFACTORY_PASSWORD")
    generated = _generated(secrets_file)
    assert generated, "the demo generated no password"
    org = build_organization("demo", seed=1)
    texts = {
        "stdout": result.out.encode(),
        "stderr": result.err.encode(),
        **_files(workdir, skip=(env_file, secrets_file)),
        str(log): log.read_bytes(),
    }
    assert any(name.endswith("state.db") for name in texts)
    users = [*org.users, "admin", org.name]
    checked = _assert_nowhere([*configured.values(), *generated, *_org_secrets(org)], users, texts)
    print(f"\ndemo: {checked} secrets, in none of {len(texts)} outputs and files")


async def test_a_migration_with_tokens_leaks_no_secret(tmp_path: Path) -> None:
    options = ArtifactoryOptions(admin_password=generate_password(), profile="cloud")
    async with Sandbox("demo", seed=2, artifactory_options=options) as sandbox:
        config, env = write_cli_config(
            sandbox, tmp_path, security="create_tokens_for_access_keys = true"
        )
        log = tmp_path / "log.jsonl"
        outputs: dict[str, bytes] = {}
        for command in (
            ("migrate", "-vv", "--log-json", str(log), "--no-progress"),
            ("status", "--json"),
            ("verify",),
            ("report",),
        ):
            result = await run_cli(command[0], "-c", str(config), *command[1:], env=env)
            assert result.code == 0, (command, result.err[-3000:])
            outputs[f"{command[0]} stdout"] = result.out.encode()
            outputs[f"{command[0]} stderr"] = result.err.encode()
        wanted = tmp_path / "wanted.txt"
        files = [f for f in sandbox.org.iter_files() if f.published][:3]
        wanted.write_text("".join(f"{f.repo}/{f.path}\n" for f in files) + "nope/missing.bin\n")
        result = await run_cli("signed-urls", "-c", str(config), str(wanted), env=env)
        assert result.code == 1, result.err  # one refused: not migrated
        outputs["signed-urls stdout"] = result.out.encode()
        outputs["signed-urls stderr"] = result.err.encode()
        maps = sorted((tmp_path / "report").glob("signed-urls.*"))
        assert maps
        assert all(_mode(path) == 0o600 for path in maps), [oct(_mode(p)) for p in maps]
        secrets_file = tmp_path / "secrets.json"
        assert _mode(secrets_file) == 0o600
        generated = _generated(secrets_file)
        tokens = json.loads(secrets_file.read_text()).get("tokens", {})
        assert tokens, "no access token was created"
        env_file = tmp_path / "transfer.toml.env"
        assert _mode(env_file) == 0o600
        configured = _env_secrets(env_file)
        texts = {**outputs, **_files(tmp_path, skip=(env_file, secrets_file, *maps))}
        users = [*sandbox.org.users, sandbox.endpoints.artifactory_user, sandbox.org.name]
        checked = _assert_nowhere(
            [*configured.values(), *generated, *_org_secrets(sandbox.org)], users, texts
        )
        print(f"\nmigration with tokens: {checked} secrets, in none of {len(texts)} outputs")


def test_tls_verification_is_on_unless_turned_off_explicitly(tmp_path: Path) -> None:
    base = {
        "source": {"subject": "acme"},
        "target": {"url": "https://a.example/artifactory", "token": Secret("t" * 20)},
    }
    settings = settings_from_mapping(base, base_dir=tmp_path)
    assert settings.target.verify_tls is True
    assert not any("verify_tls" in w for w in settings.warnings)
    off = settings_from_mapping(base, base_dir=tmp_path, overrides={"target.verify_tls": False})
    assert off.target.verify_tls is False
    assert any("TLS certificate is not checked" in w for w in off.warnings)
