"""Fidelity of system endpoints, authentication forms and rate limiting (reference §1, §9)."""

from __future__ import annotations

import pytest
from artifactory_helpers import basic, running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio


class Clock:
    """A settable clock so rate limiting is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_ping_is_plain_ok_without_credentials() -> None:
    async with running() as a, a.session.get(a.art("api/system/ping")) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert await resp.text() == "OK"


async def test_version_and_uploads_config() -> None:
    async with running(ArtifactoryOptions(version="7.90.1")) as a:
        resp, body = await a.call("GET", "api/system/version")
        assert resp.status == 200
        assert body["version"] == "7.90.1"
        assert body["revision"] == "79001900"
        assert isinstance(body["addons"], list)
        assert isinstance(body["license"], str)
        resp, body = await a.call("GET", "api/v1/uploads/config")
        assert resp.status == 200
        assert body == {"supported": False}


async def test_bad_or_missing_credentials_are_401_with_challenge() -> None:
    async with running() as a:
        for auth in (
            {},
            basic("admin", "wrong"),
            basic("ghost", "x"),
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic !!!"},
            {"X-JFrog-Art-Api": "AKCp8nope"},
        ):
            resp, body = await a.call("GET", "api/repositories", auth=auth)
            assert resp.status == 401, auth
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'
            assert body == {"errors": [{"status": 401, "message": "Bad credentials"}]}


async def test_api_key_authenticates_both_ways() -> None:
    async with running() as a:
        key = a.emulator.admin_api_key
        assert key.startswith("AKCp8")
        assert len(key) == 73
        resp, _ = await a.call("GET", "api/security/users", auth={"X-JFrog-Art-Api": key})
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/security/users", auth=basic("admin", key))
        assert resp.status == 200
        lee = await a.user("lee")
        resp, body = await a.call("POST", "api/security/apiKey", auth=lee)
        assert resp.status == 201
        resp, _ = await a.call(
            "GET", "api/security/apiKey", auth={"X-JFrog-Art-Api": body["apiKey"]}
        )
        assert resp.status == 200


async def test_custom_admin_and_base_url() -> None:
    options = ArtifactoryOptions(
        admin_user="root", admin_password="pw", base_url="https://art.example.com/artifactory"
    )
    async with running(options) as a:
        resp, _ = await a.call(
            "PUT", "api/repositories/r", json={"rclass": "local"}, auth=basic("root", "pw")
        )
        assert resp.status == 200
        resp, body = await a.call("PUT", "r/f.bin", data=b"x", auth=basic("root", "pw"))
        assert body["downloadUri"] == "https://art.example.com/artifactory/r/f.bin"


async def test_rate_limit_answers_429_with_retry_after() -> None:
    clock = Clock()
    async with running(ArtifactoryOptions(rate_limit_rps=2), clock=clock) as a:
        statuses = []
        for _ in range(4):
            resp, body = await a.call("GET", "api/system/ping")
            statuses.append(resp.status)
        assert statuses == [200, 200, 429, 429]
        assert int(resp.headers["Retry-After"]) >= 1
        assert body["errors"][0]["status"] == 429
        clock.now += 1
        resp, _ = await a.call("GET", "api/system/ping")
        assert resp.status == 200
        assert a.emulator.request_log.count(status=429) == 2


async def test_unknown_api_route_is_404_json() -> None:
    async with running() as a:
        resp, body = await a.call("GET", "/access/api/v1/nothing-here")
        assert resp.status == 404
        assert body["errors"][0]["status"] == 404
