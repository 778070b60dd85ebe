"""Fidelity of the ``cloud`` profile: JFrog Cloud's rules (reference §13)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from artifactory_helpers import ADMIN, basic, bearer, running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio

CLOUD = ArtifactoryOptions(profile="cloud")


def test_profile_and_plan_are_checked() -> None:
    with pytest.raises(ValueError, match="profile"):
        ArtifactoryOptions(profile="saas")
    with pytest.raises(ValueError, match="plan"):
        ArtifactoryOptions(plan="free")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ci.bot-1_x@acme+eu", 201),
        ("Bob", 400),
        ("john doe", 400),
        ("ci#1", 400),
        ("ünïcode", 400),
    ],
)
async def test_user_names_must_be_lower_case_and_plain(name: str, status: int) -> None:
    async with running(CLOUD) as a:
        body = {"email": "u@example.com", "password": "Secret-1"}
        resp, err = await a.call("PUT", f"api/security/users/{quote(name)}", json=body)
        assert resp.status == status, err
        if status == 400:
            assert err["errors"][0]["status"] == 400


async def test_every_user_create_needs_a_password() -> None:
    async with running(CLOUD) as a:
        body = {"email": "sso@example.com", "internalPasswordDisabled": True}
        resp, _ = await a.call("PUT", "api/security/users/sso-user", json=body)
        assert resp.status == 400
        resp, _ = await a.call(
            "PUT", "api/security/users/sso-user", json={**body, "password": "Random-1"}
        )
        assert resp.status == 201
        # a replace keeps the stored password: none needed
        resp, _ = await a.call("PUT", "api/security/users/sso-user", json=body)
        assert resp.status == 200
    async with running() as a:  # self-hosted: the password may be left out
        resp, _ = await a.call("PUT", "api/security/users/sso-user", json=body)
        assert resp.status == 201


async def test_api_keys_are_refused() -> None:
    async with running(CLOUD) as a:
        key = a.emulator.admin_api_key
        resp, _ = await a.call("GET", "api/repositories", auth={"X-JFrog-Art-Api": key})
        assert resp.status == 401
        resp, _ = await a.call("GET", "api/repositories", auth=basic("admin", key))
        assert resp.status == 401
        resp, err = await a.call("POST", "api/security/apiKey")
        assert resp.status == 400
        assert "deprecated" in err["errors"][0]["message"]


async def test_token_creation_with_a_password_needs_token_generation_via_api() -> None:
    async with running(ArtifactoryOptions(profile="cloud", token_generation_via_api=False)) as a:
        resp, err = await a.call("POST", "/access/api/v1/tokens", json={"username": "admin"})
        assert resp.status == 403
        assert "access token" in err["errors"][0]["message"]
        resp, _ = await a.call("POST", "api/security/token", data={"username": "admin"})
        assert resp.status == 403
        # an admin access token (as JFrog Cloud's UI hands out) may mint tokens
        admin_token = a.emulator.issue_admin_token()
        resp, body = await a.call(
            "POST", "/access/api/v1/tokens", auth=bearer(admin_token), json={"username": "admin"}
        )
        assert resp.status == 200, body
    async with running(CLOUD) as a:  # switched on
        resp, _ = await a.call("POST", "/access/api/v1/tokens", json={"username": "admin"})
        assert resp.status == 200


@pytest.mark.parametrize(("plan", "kept"), [("pro", False), ("enterprise", True)])
async def test_cdn_redirect_depends_on_the_plan(plan: str, kept: bool) -> None:
    async with running(ArtifactoryOptions(profile="cloud", plan=plan)) as a:
        await a.repo("cdn-local", cdnRedirect=True)
        _, config = await a.call("GET", "api/repositories/cdn-local")
        assert config["cdnRedirect"] is kept
        await a.repo("later-local")
        resp, _ = await a.call("POST", "api/repositories/later-local", json={"cdnRedirect": True})
        assert resp.status == 200
        _, config = await a.call("GET", "api/repositories/later-local")
        assert config["cdnRedirect"] is kept


async def test_downloads_of_a_cdn_redirected_repository_are_redirected() -> None:
    async with running(CLOUD) as a:
        await a.repo("cdn-local", cdnRedirect=True)
        await a.repo("plain-local")
        await a.deploy("cdn-local/dir/f.bin", b"payload")
        await a.deploy("plain-local/f.bin", b"payload")
        async with a.session.get(
            a.art("cdn-local/dir/f.bin"), headers=ADMIN, allow_redirects=False
        ) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
        assert "sig=" in urlsplit(location).query
        # the redirect target needs no credentials
        async with a.session.get(location) as resp:
            assert resp.status == 200
            assert await resp.read() == b"payload"
        async with a.session.head(a.art("cdn-local/dir/f.bin"), headers=ADMIN) as resp:
            assert resp.status == 200
            assert resp.headers["X-Checksum-Sha1"]
        async with a.session.get(
            a.art("plain-local/f.bin"), headers=ADMIN, allow_redirects=False
        ) as resp:
            assert resp.status == 200
