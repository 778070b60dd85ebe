"""The security phase against the emulators: members, teams and access keys end up with the
rights Bintray gave them (checked by signing in as them), LDAP and SSO modes, secrets kept in
one 0600 file and nowhere else, and re-runs that create nothing and rotate nothing."""

from __future__ import annotations

import base64
import dataclasses
import json
import stat
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
import pytest
from harness import REPO_ROOT, settings_for, write_cli_config

from transfer.migrate.security_phase import ACCESS_KEY_KIND
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.reporting.logsetup import configure_logging, event_logger, shutdown_logging
from transfer.runner import migrate, open_store, report, security_plan
from transfer.sandbox.artifactory import ArtifactoryOptions
from transfer.sandbox.orgdata import BintrayFile
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

pytestmark = pytest.mark.anyio

SECURITY_PATHS = ("/artifactory/api/security/", "/artifactory/api/v2/security/", "/access/")


def _with_security(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, security=dataclasses.replace(settings.security, **changes))


async def _migrate(settings: Settings, phases: tuple[str, ...]) -> list[str]:
    bus = EventBus()
    bus.subscribe(event_logger())
    summary = await migrate(settings, bus=bus, stop=StopControl(), phases=phases)
    return summary.notes


def _secrets(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(settings.security.secrets_file.read_text())
    return data


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _file(sandbox: Sandbox, repo: str, prefix: str) -> BintrayFile:
    files: list[BintrayFile] = list(sandbox.org.iter_files())
    return next(f for f in files if f.repo == repo and f.path.startswith(prefix))


def _security_writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in sandbox.artifactory.request_log
        if r.method in ("PUT", "POST", "DELETE") and r.path.startswith(SECURITY_PATHS)
    ]


def _assert_nowhere_but_the_secrets_file(
    workdir: Path, settings: Settings, values: list[str]
) -> None:
    """No generated value in the store (SQLite file and WAL), logs, reports or URL map."""
    scanned = set()
    for path in workdir.rglob("*"):
        if path.is_file() and path != settings.security.secrets_file:
            content = path.read_bytes()
            scanned.add(path.name)
            for value in values:
                assert value.encode() not in content, f"a generated secret is in {path.name}"
    assert {"state.db", "log.jsonl", "report.json", "url-map.csv"} <= scanned, scanned


def _store_bytes(workdir: Path) -> bytes:
    """The SQLite store as it is on disk: the database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in workdir.glob("state.db*"))


async def _status(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], body: bytes = b""
) -> int:
    async with http.request(method, url, headers=headers, data=body or None) as response:
        await response.read()
        return response.status


async def test_rights_follow_bintray_and_secrets_stay_in_their_file(tmp_path: Path) -> None:
    log_file = tmp_path / "log.jsonl"
    configure_logging(level="debug", json_file=log_file, console=False)
    try:
        options = ArtifactoryOptions(anonymous_access=True, profile="cloud")
        async with Sandbox("tiny", artifactory_options=options) as sandbox:
            settings = settings_for(sandbox, tmp_path)
            phases = ("repositories", "security", "artifacts")
            notes = await _migrate(settings, phases)
            assert any("2 access keys need their new secret" in n for n in notes), notes
            secrets = _secrets(settings)
            users = secrets["users"]
            assert set(users) == {"jdoe", "bob", "eve", "carol", "customer-42", "ci-uploader"}
            base = sandbox.endpoints.artifactory_url
            inside = _file(sandbox, "internal", "c++ utils/0.2/")
            outside = _file(sandbox, "internal", "c++ utils/0.1/")
            release = _file(sandbox, "releases", "com/acme/")

            def url(repo: str, path: str) -> str:
                return f"{base}/{repo}/{quote(path)}"

            eve = _basic("eve", users["eve"]["password"])
            uploader = _basic("ci-uploader", users["ci-uploader"]["password"])
            customer = _basic("customer-42", users["customer-42"]["password"])
            async with aiohttp.ClientSession() as http:
                # team dev: read on internal, publish on releases
                assert await _status(http, "GET", url("internal", inside.path), eve) == 200
                put = url("internal", "eve/new.txt")
                assert await _status(http, "PUT", put, eve, b"x") == 403
                put = url("releases", "com/acme/eve/1.0/eve-1.0.txt")
                assert await _status(http, "PUT", put, eve, b"x") == 201
                # access keys: inside their entitlement only
                assert await _status(http, "GET", url("internal", inside.path), uploader) == 200
                assert await _status(http, "GET", url("internal", outside.path), uploader) in (
                    403,
                    404,
                )
                assert await _status(http, "GET", url("releases", release.path), customer) == 200
                assert await _status(http, "GET", url("internal", inside.path), customer) in (
                    403,
                    404,
                )
                # anonymous reads the public repository, never the private one
                assert await _status(http, "GET", url("releases", release.path), {}) == 200
                assert await _status(http, "GET", url("internal", inside.path), {}) in (
                    401,
                    403,
                    404,
                )
                # owner and admins are admins; members are not
                admin = _basic(
                    sandbox.endpoints.artifactory_user, sandbox.endpoints.artifactory_password
                )
                for name, expected in (("jdoe", True), ("bob", True), ("eve", False)):
                    async with http.get(f"{base}/api/security/users/{name}", headers=admin) as r:
                        assert (await r.json())["admin"] is expected, name

            mode = stat.S_IMODE(settings.security.secrets_file.stat().st_mode)
            assert mode == 0o600
            generated = [entry["password"] for entry in users.values()]
            await report(settings)
            _assert_nowhere_but_the_secrets_file(tmp_path, settings, generated)
            async with open_store(settings, readonly=True) as store:
                keys = {r.key: r async for r in store.iter_side(ACCESS_KEY_KIND)}
            assert {k: r.state for k, r in keys.items()} == dict.fromkeys(
                ("customer-42", "ci-uploader"), "needs_new_secret"
            )
            assert "generated password" in keys["ci-uploader"].detail["distribute"]

            # a second run creates nothing and rotates nothing
            before = _security_writes(sandbox)
            file_before = settings.security.secrets_file.read_bytes()
            notes = await _migrate(settings, phases)
            assert _security_writes(sandbox) == before
            assert settings.security.secrets_file.read_bytes() == file_before
            assert any(n.startswith("security:") and "nothing changed" in n for n in notes)
            await report(settings)
    finally:
        shutdown_logging()
    assert b"phase_finished" in log_file.read_bytes()
    _assert_nowhere_but_the_secrets_file(tmp_path, settings, generated)


async def test_tokens_for_access_keys_scope_and_expiry(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = _with_security(
            settings_for(sandbox, tmp_path), create_tokens_for_access_keys=True
        )
        await _migrate(settings, ("repositories", "security", "artifacts"))
        tokens = _secrets(settings)["tokens"]
        assert set(tokens) == {"customer-42", "ci-uploader"}
        # key users sign in with the token only: no generated password for them
        assert set(_secrets(settings)["users"]) == {"jdoe", "bob", "eve", "carol"}
        expiry_ms = sandbox.org.access_keys["customer-42"].expiry
        assert expiry_ms is not None
        # mapped from the key's expiry (years away), not the one-year default
        assert tokens["customer-42"]["expires_in"] > 2 * 365 * 86400
        assert tokens["ci-uploader"]["expires_in"] == settings.security.token_expiry
        base = sandbox.endpoints.artifactory_url
        inside = _file(sandbox, "internal", "c++ utils/0.2/")
        outside = _file(sandbox, "internal", "c++ utils/0.1/")
        bearer = {"Authorization": f"Bearer {tokens['ci-uploader']['access_token']}"}
        async with aiohttp.ClientSession() as http:
            assert (
                await _status(http, "GET", f"{base}/internal/{quote(inside.path)}", bearer) == 200
            )
            status = await _status(http, "GET", f"{base}/internal/{quote(outside.path)}", bearer)
            assert status in (403, 404)
            put = f"{base}/internal/{quote('c++ utils/0.2/upload.bin')}"
            assert await _status(http, "PUT", put, bearer, b"rw") == 201
        async with open_store(settings, readonly=True) as store:
            record = await store.get_side(ACCESS_KEY_KIND, "ci-uploader")
            token_record = await store.get_side("token", "ci-uploader")
        assert record is not None
        assert "access token" in record.detail["distribute"]
        assert token_record is not None
        assert token_record.detail["token_id"]
        assert token_record.detail["revocable"] is True
        minted = sandbox.artifactory.request_log.count(method="POST", path="/access/api/v1/tokens")
        await _migrate(settings, ("security",))
        again = sandbox.artifactory.request_log.count(method="POST", path="/access/api/v1/tokens")
        assert again == minted == 2
        assert _secrets(settings)["tokens"] == tokens
        db = _store_bytes(tmp_path)
        for entry in tokens.values():
            assert entry["access_token"].encode() not in db


async def test_a_token_too_short_lived_to_be_kept_is_reported_as_not_revocable(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = _with_security(
            settings_for(sandbox, tmp_path), create_tokens_for_access_keys=True, token_expiry=3600
        )
        await _migrate(settings, ("repositories", "security"))
        tokens = _secrets(settings)["tokens"]
        # the key without an expiry gets the configured hour: Access does not persist it
        assert tokens["ci-uploader"]["revocable"] is False
        assert tokens["customer-42"]["revocable"] is True
        async with open_store(settings, readonly=True) as store:
            record = await store.get_side("token", "ci-uploader")
        assert record is not None
        assert record.detail["revocable"] is False
        assert "cannot be listed or revoked" in record.detail["note"]


async def test_names_jfrog_cloud_refuses_are_renamed_everywhere(tmp_path: Path) -> None:
    async with Sandbox("demo") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        notes = await _migrate(settings, ("repositories", "security"))
        assert any("3 Bintray names were renamed" in n for n in notes)
        base = sandbox.endpoints.artifactory_url
        admin = _basic(sandbox.endpoints.artifactory_user, sandbox.endpoints.artifactory_password)
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.get(f"{base}/api/security/users/ken.adams") as response:
                assert response.status == 200
            async with http.get(f"{base}/api/security/groups/qa-leads?includeUsers=true") as r:
                group = await r.json()
            async with http.get(f"{base}/api/security/users/deploy_bot-2") as response:
                assert response.status == 200
        assert set(group["userNames"]) == {"ken.adams", "grace"}
        renamed = _secrets(settings)["renamed"]
        assert renamed["member/Ken.Adams"]["artifactory"] == "ken.adams"
        assert renamed["access_key/Deploy_Bot#2"]["artifactory"] == "deploy_bot-2"
        assert "ken.adams" in _secrets(settings)["users"]
        paths = await report(settings)
        markdown = paths.markdown.read_text(encoding="utf-8")
        assert "`team/QA Leads`: renamed → `qa-leads`" in markdown


async def test_package_and_version_entitlements_are_resolved_from_per_scope_lists(
    tmp_path: Path,
) -> None:
    # search results carry no package or version (the emulator's default, as documented)
    async with Sandbox("demo") as sandbox:
        plan = await security_plan(settings_for(sandbox, tmp_path))
        per_scope = [
            e.path
            for e in sandbox.bintray.request_log
            if e.path.startswith("/packages/") and e.path.endswith("/entitlements")
        ]
    targets = {t.name.rsplit("-", 1)[0]: t for t in plan.targets if t.origin == "entitlement"}
    version = targets["bintray-entitlement-debs"]
    assert version.include == (
        "pool/main/w/widget/widget_1.0-1_amd64.deb",
        "pool/main/w/widget/widget_1.0-1_i386.deb",
    )
    package = targets["bintray-entitlement-npm-registry"]
    assert package.include == ("@acme/plain-client/-/**",)
    assert not [e for e in plan.entries if e.category == "entitlement"]
    # only repositories with a scoped entitlement were walked package by package
    walked = {path.split("/")[3] for path in per_scope}
    assert walked == {"debs", "npm-registry"}


async def test_ldap_mode_creates_realm_groups_and_no_member_users(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = _with_security(settings_for(sandbox, tmp_path), ldap=True)
        await _migrate(settings, ("repositories", "security"))
        base = sandbox.endpoints.artifactory_url
        admin = _basic(sandbox.endpoints.artifactory_user, sandbox.endpoints.artifactory_password)
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.get(f"{base}/api/security/users") as response:
                users = {u["name"] for u in await response.json()}
            groups = {}
            for team in ("dev", "ops"):
                async with http.get(f"{base}/api/security/groups/{team}") as response:
                    groups[team] = await response.json()
            async with http.get(f"{base}/api/v2/security/permissions/bintray-repo-internal") as r:
                permission = await r.json()
        # no member becomes a user: LDAP creates them at first login
        assert not users & {"jdoe", "bob", "eve", "carol"}
        # access keys are not LDAP identities: they still get internal users
        assert {"customer-42", "ci-uploader"} <= users
        for team, group in groups.items():
            assert group["realm"] == "ldap"
            assert group["realmAttributes"] == f"ldapGroupName={team}"
        assert permission["repo"]["actions"]["groups"] == {
            "dev": ["read"],
            "ops": ["read", "annotate", "write", "delete"],
        }
        assert set(_secrets(settings)["users"]) == {"customer-42", "ci-uploader"}
        async with open_store(settings, readonly=True) as store:
            entry = await store.get_side("unmigratable", "ldap-admins")
        assert entry is not None
        assert entry.detail["users"] == ["bob", "jdoe"]


async def test_sso_mode_disables_internal_passwords(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = _with_security(settings_for(sandbox, tmp_path), sso=True)
        await _migrate(settings, ("repositories", "security"))
        base = sandbox.endpoints.artifactory_url
        admin = _basic(sandbox.endpoints.artifactory_user, sandbox.endpoints.artifactory_password)
        async with (
            aiohttp.ClientSession(headers=admin) as http,
            http.get(f"{base}/api/security/users/eve") as response,
        ):
            eve = await response.json()
        assert eve["internalPasswordDisabled"] is True
        assert eve["email"] == "eve@users.invalid"
        assert set(_secrets(settings)["users"]) == {"customer-42", "ci-uploader"}


async def test_plan_lists_what_would_be_created_and_writes_nothing(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = settings_for(sandbox, tmp_path)
        plan = await security_plan(settings)
        assert {u.name for u in plan.users} >= {"jdoe", "bob", "eve", "carol", "customer-42"}
        assert {g.name for g in plan.groups} >= {"dev", "ops", "accesskey-customer-42"}
        assert {t.name for t in plan.targets} >= {"bintray-repo-internal"}
        text = "\n".join(plan.lines())
        assert "user jdoe (admin; generated password)" in text
        assert "geo" not in text or "KP" in text
        assert not settings.security.secrets_file.exists()
        assert _security_writes(sandbox) == []
        json.dumps(plan.as_dict())


async def test_plan_command_prints_the_security_plan(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        result = await anyio.run_process(
            [sys.executable, "-m", "transfer", "plan", "-c", str(config), "--no-progress"],
            env=env,
            cwd=REPO_ROOT,
            check=False,
        )
        out = result.stdout.decode()
        assert result.returncode == 0, result.stderr.decode()
        assert "security: 6 users, 4 groups, 6 permission targets, 0 tokens" in out
        assert "group dev (bob, eve)" in out
        assert "permission target bintray-repo-internal on internal" in out
        assert "cannot move: repository debs blocked downloads from IR, KP, SY" in out
        assert _security_writes(sandbox) == []
        assert not (tmp_path / "transfer-secrets.json").exists()


async def test_tokens_need_an_admin_token_when_cloud_refuses_password_logins(
    tmp_path: Path,
) -> None:
    options = ArtifactoryOptions(profile="cloud", token_generation_via_api=False)
    async with Sandbox("tiny", artifactory_options=options) as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text + "\n[security]\ncreate_tokens_for_access_keys = true\n", encoding="utf-8"
        )
        command = [sys.executable, "-m", "transfer", "migrate", "-c", str(config)]
        command += ["--only", "repositories", "--only", "security", "--no-progress"]
        result = await anyio.run_process(command, env=env, cwd=REPO_ROOT, check=False)
        errors = [line for line in result.stderr.decode().splitlines() if line.strip()]
        assert result.returncode == 3, result.stderr.decode()
        assert len(errors) == 1, errors
        assert "Token generation via API" in errors[0]
        assert "target.token" in errors[0]
        assert "Traceback" not in result.stderr.decode()
        # with an admin access token (as the JFrog Cloud UI hands out), the same run works
        env["ARTIFACTORY_TOKEN"] = sandbox.artifactory.issue_admin_token()
        text = config.read_text(encoding="utf-8")
        text = text.replace('password = "${TRANSFER_ARTIFACTORY_PASSWORD}"', "")
        text = text.replace("[target]\n", '[target]\ntoken = "${ARTIFACTORY_TOKEN}"\n')
        config.write_text(text, encoding="utf-8")
        result = await anyio.run_process(command, env=env, cwd=REPO_ROOT, check=False)
        assert result.returncode == 0, result.stderr.decode()
        tokens = json.loads((tmp_path / "transfer-secrets.json").read_text())["tokens"]
        assert set(tokens) == {"customer-42", "ci-uploader"}
