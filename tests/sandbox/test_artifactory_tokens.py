"""Fidelity of the token APIs (reference §7) and of token authentication."""

from __future__ import annotations

import pytest
from artifactory_helpers import basic, bearer, running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio


class Clock:
    """A settable clock so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_legacy_token_form_defaults_and_bearer_use() -> None:
    async with running() as a:
        resp, body = await a.call(
            "POST", "api/security/token", data={"username": "admin", "scope": "api:*"}
        )
        assert resp.status == 200
        assert body["expires_in"] == 3600
        assert body["token_type"] == "Bearer"
        assert body["scope"].startswith("api:*")
        assert "refresh_token" not in body
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(body["access_token"]))
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/repositories", auth=basic("admin", body["access_token"]))
        assert resp.status == 200


async def test_legacy_token_errors_are_oauth_style() -> None:
    async with running() as a:
        resp, body = await a.call("POST", "api/security/token", data={"scope": "api:*"})
        assert resp.status == 400
        assert body["error"] == "invalid_request"
        assert isinstance(body["error_description"], str)
        resp, body = await a.call(
            "POST", "api/security/token", data={"grant_type": "password", "username": "admin"}
        )
        assert resp.status == 400
        assert body["error"] == "unsupported_grant_type"
        resp, body = await a.call(
            "POST",
            "api/security/token",
            data={"grant_type": "refresh_token", "refresh_token": "nope"},
        )
        assert resp.status == 401
        assert body["error"] == "invalid_grant"


async def test_legacy_group_scoped_token_acts_with_groups() -> None:
    async with running() as a:
        await a.repo("r")
        await a.group("deployers")
        await a.grant("dep", ["r"], groups={"deployers": ["read", "write"]})
        resp, body = await a.call(
            "POST",
            "api/security/token",
            data={"username": "ci-bot", "scope": "member-of-groups:deployers", "expires_in": "600"},
        )
        assert resp.status == 200
        assert body["scope"] == "api:* member-of-groups:deployers"
        assert body["expires_in"] == 600
        token = body["access_token"]
        assert (await a.deploy("r/f.bin", b"x", auth=bearer(token))).status == 201
        resp, _ = await a.call("GET", "api/security/users", auth=bearer(token))
        assert resp.status == 403


async def test_legacy_refresh_and_revoke() -> None:
    async with running() as a:
        _, body = await a.call(
            "POST", "api/security/token", data={"username": "admin", "refreshable": "true"}
        )
        assert "refresh_token" in body
        # refreshed for a day, so the new token is persisted and can be revoked
        resp, fresh = await a.call(
            "POST",
            "api/security/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": body["refresh_token"],
                "access_token": body["access_token"],
                "expires_in": "86400",
            },
        )
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(body["access_token"]))
        assert resp.status == 401
        resp, text = await a.call(
            "POST", "api/security/token/revoke", data={"token": fresh["access_token"]}
        )
        assert resp.status == 200
        assert isinstance(text, str)
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(fresh["access_token"]))
        assert resp.status == 401
        resp, text = await a.call("POST", "api/security/token/revoke", data={"token": "unknown"})
        assert resp.status == 200


async def test_access_token_json_and_form() -> None:
    async with running() as a:
        resp, body = await a.call(
            "POST",
            "/access/api/v1/tokens",
            json={
                "username": "admin",
                "scope": "applied-permissions/admin",
                "expires_in": 86_400,
                "description": "migration",
            },
        )
        assert resp.status == 200
        assert set(body) >= {"token_id", "access_token", "expires_in", "scope", "token_type"}
        assert body["scope"] == "applied-permissions/admin"
        assert body["expires_in"] == 86_400
        resp, _ = await a.call("GET", "api/security/users", auth=bearer(body["access_token"]))
        assert resp.status == 200
        resp, form = await a.call("POST", "/access/api/v1/tokens", data={"username": "admin"})
        assert resp.status == 200
        assert form["scope"] == "applied-permissions/user"
        assert form["expires_in"] == 31_536_000
        resp, _ = await a.call("DELETE", f"/access/api/v1/tokens/{form['token_id']}")
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(form["access_token"]))
        assert resp.status == 401
        resp, _ = await a.call(
            "DELETE", "/access/api/v1/tokens/revoke", data={"token": body["access_token"]}
        )
        assert resp.status == 200
        resp, _ = await a.call("DELETE", "/access/api/v1/tokens/revoke", data={"token": "zzz"})
        assert resp.status == 404


async def test_access_group_scoped_token_and_basic_with_username() -> None:
    async with running() as a:
        await a.repo("r")
        await a.group("readers")
        await a.grant("read", ["r"], groups={"readers": ["read"]})
        jo = await a.user("jo", groups=["readers"])
        await a.grant("jo-write", ["r"], users={"jo": ["write"]})
        resp, body = await a.call(
            "POST",
            "/access/api/v1/tokens",
            auth=jo,
            json={"scope": "applied-permissions/groups:readers"},
        )
        assert resp.status == 200
        token = body["access_token"]
        # acts with the groups only: reading works, the user's own write grant does not apply
        await a.deploy("r/f.bin", b"x")
        resp, _ = await a.call("GET", "r/f.bin", auth=basic("jo", token))
        assert resp.status == 200
        assert (await a.deploy("r/g.bin", b"x", auth=bearer(token))).status == 403
        # a token is only valid as the Basic password of its own user
        resp, _ = await a.call("GET", "r/f.bin", auth=basic("admin", token))
        assert resp.status == 401
        resp, _ = await a.call(
            "POST", "/access/api/v1/tokens", auth=jo, json={"scope": "applied-permissions/admin"}
        )
        assert resp.status == 403
        resp, _ = await a.call("POST", "/access/api/v1/tokens", auth=jo, json={"username": "admin"})
        assert resp.status == 403


async def test_expired_token_is_401() -> None:
    clock = Clock()
    async with running(clock=clock) as a:
        _, body = await a.call("POST", "/access/api/v1/tokens", json={"expires_in": 60})
        token = body["access_token"]
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(token))
        assert resp.status == 200
        clock.now += 61
        resp, err = await a.call("GET", "api/repositories", auth=bearer(token))
        assert resp.status == 401
        assert err["errors"][0]["status"] == 401
        assert "WWW-Authenticate" in resp.headers


async def test_access_token_info_and_list() -> None:
    async with running() as a:
        _, body = await a.call(
            "POST",
            "/access/api/v1/tokens",
            json={"username": "admin", "expires_in": 86_400, "description": "migration"},
        )
        resp, info = await a.call("GET", f"/access/api/v1/tokens/{body['token_id']}")
        assert resp.status == 200
        assert info["token_id"] == body["token_id"]
        assert info["subject"].endswith("/users/admin")
        assert info["expiry"] - info["issued_at"] == 86_400
        assert info["description"] == "migration"
        assert info["refreshable"] is False
        assert "access_token" not in info
        resp, listed = await a.call("GET", "/access/api/v1/tokens")
        assert resp.status == 200
        assert [t["token_id"] for t in listed["tokens"]] == [body["token_id"]]
        resp, err = await a.call("GET", "/access/api/v1/tokens/not-a-token")
        assert resp.status == 404
        assert err["errors"][0]["status"] == 404


async def test_tokens_under_the_persistency_threshold_work_but_are_not_kept() -> None:
    async with running() as a:
        _, short = await a.call("POST", "/access/api/v1/tokens", json={"expires_in": 10_799})
        _, kept = await a.call("POST", "/access/api/v1/tokens", json={"expires_in": 10_800})
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(short["access_token"]))
        assert resp.status == 200
        resp, _ = await a.call("GET", f"/access/api/v1/tokens/{short['token_id']}")
        assert resp.status == 404
        _, listed = await a.call("GET", "/access/api/v1/tokens")
        assert [t["token_id"] for t in listed["tokens"]] == [kept["token_id"]]
        resp, _ = await a.call("DELETE", f"/access/api/v1/tokens/{short['token_id']}")
        assert resp.status == 404
        resp, _ = await a.call(
            "DELETE", "/access/api/v1/tokens/revoke", data={"token": short["access_token"]}
        )
        assert resp.status == 404
        # still valid: nothing could revoke it
        resp, _ = await a.call("GET", "api/repositories", auth=bearer(short["access_token"]))
        assert resp.status == 200


async def test_persistency_threshold_is_an_option() -> None:
    async with running(ArtifactoryOptions(token_persistency_threshold=0)) as a:
        _, short = await a.call("POST", "/access/api/v1/tokens", json={"expires_in": 60})
        resp, _ = await a.call("DELETE", f"/access/api/v1/tokens/{short['token_id']}")
        assert resp.status == 200
