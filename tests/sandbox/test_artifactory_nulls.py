"""Fidelity: request bodies bind like Artifactory's Jackson binding (reference §13 "JSON null").

An optional member sent as ``null`` means "not given" (the default on create, unchanged on a
partial update) and unknown members are ignored. The bodies below are shaped like those a
published client (pyartifactory's pydantic models) sends: every unset optional field as ``null``.
"""

from __future__ import annotations

import pytest
from artifactory_helpers import running

pytestmark = pytest.mark.anyio


async def test_repository_create_and_update_accept_nulls_and_unknown_fields() -> None:
    async with running() as a:
        body = {
            "key": "nulls-local",
            "rclass": "local",
            "packageType": "generic",
            "description": None,
            "notes": None,
            "includesPattern": None,
            "repoLayoutRef": None,
            "propertySets": None,
            "checksumPolicyType": None,
            "someFieldOfALaterRelease": {"nested": None},
        }
        resp, text = await a.call("PUT", "api/repositories/nulls-local", json=body)
        assert resp.status == 200, text
        _, config = await a.call("GET", "api/repositories/nulls-local")
        assert config["description"] == ""
        assert config["includesPattern"] == "**/*"
        assert config["checksumPolicyType"] == "client-checksums"
        resp, _ = await a.call(
            "POST", "api/repositories/nulls-local", json={"description": "d", "notes": None}
        )
        assert resp.status == 200
        resp, _ = await a.call("POST", "api/repositories/nulls-local", json={"description": None})
        assert resp.status == 200
        _, config = await a.call("GET", "api/repositories/nulls-local")
        assert config["description"] == "d"


async def test_user_and_group_bodies_accept_nulls() -> None:
    async with running() as a:
        group = {
            "name": "devs",
            "description": None,
            "autoJoin": None,
            "adminPrivileges": False,
            "realm": None,
            "realmAttributes": None,
            "userNames": None,
            "externalId": None,
        }
        resp, text = await a.call("PUT", "api/security/groups/devs", json=group)
        assert resp.status == 201, text
        _, got = await a.call("GET", "api/security/groups/devs")
        assert got["realm"] == "internal"
        assert got["description"] == ""
        user = {
            "name": "dev1",
            "email": "dev1@example.com",
            "password": "Secret-1",
            "admin": False,
            "profileUpdatable": None,
            "disableUIAccess": None,
            "internalPasswordDisabled": None,
            "realm": None,
            "groups": ["devs"],
            "lastLoggedIn": None,
            "watchManager": None,
        }
        resp, text = await a.call("PUT", "api/security/users/dev1", json=user)
        assert resp.status == 201, text
        resp, _ = await a.call("POST", "api/security/users/dev1", json={"groups": None})
        assert resp.status == 200
        _, got = await a.call("GET", "api/security/users/dev1")
        assert got["groups"] == ["devs"]
        assert got["profileUpdatable"] is True


async def test_permission_targets_v1_and_v2_accept_nulls() -> None:
    async with running() as a:
        await a.repo("perm-local")
        v2 = {
            "name": "p2",
            "repo": {
                "repositories": ["perm-local"],
                "include-patterns": None,
                "exclude-patterns": None,
                "actions": {"users": {"admin": ["read"]}, "groups": None},
            },
            "build": None,
            "releaseBundle": None,
        }
        resp, text = await a.call("POST", "api/v2/security/permissions/p2", json=v2)
        assert resp.status == 201, text
        _, got = await a.call("GET", "api/v2/security/permissions/p2")
        assert got["repo"]["include-patterns"] == ["**"]
        assert "build" not in got
        v1 = {
            "name": "p1",
            "includesPattern": None,
            "excludesPattern": None,
            "repositories": ["perm-local"],
            "principals": {"users": None, "groups": {"readers": ["r"]}},
        }
        resp, text = await a.call("PUT", "api/security/permissions/p1", json=v1)
        assert resp.status == 201, text
        _, got = await a.call("GET", "api/security/permissions/p1")
        assert got["includesPattern"] == "**"
        assert got["principals"]["groups"] == {"readers": ["r"]}


async def test_token_and_signed_url_bodies_accept_nulls() -> None:
    async with running() as a:
        body = {
            "username": "admin",
            "scope": None,
            "expires_in": None,
            "refreshable": None,
            "audience": None,
            "description": None,
        }
        resp, token = await a.call("POST", "/access/api/v1/tokens", json=body)
        assert resp.status == 200, token
        assert token["scope"] == "applied-permissions/user"
        await a.repo("signed-local")
        await a.deploy("signed-local/f.bin", b"x")
        resp, url = await a.call(
            "POST",
            "api/signed/url",
            json={"repo_path": "/signed-local/f.bin", "valid_for_secs": None, "expiry": None},
        )
        assert resp.status == 200, url
        assert "?sig=" in url
