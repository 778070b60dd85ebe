"""Fidelity of users, groups and permission targets (reference §6) and of permission checks."""

from __future__ import annotations

import pytest
from artifactory_helpers import basic, digests, running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio


async def test_user_create_replace_get_list_delete() -> None:
    async with running() as a:
        body = {
            "name": "mig",
            "email": "m@example.com",
            "password": "S3cret!",
            "groups": ["readers"],
            "profileUpdatable": False,
        }
        resp, _ = await a.call("PUT", "api/security/users/mig", json=body)
        assert resp.status == 201
        resp, _ = await a.call("PUT", "api/security/users/mig", json=body)
        assert resp.status == 200
        resp, user = await a.call("GET", "api/security/users/mig")
        assert resp.status == 200
        assert "password" not in user
        assert user["name"] == "mig"
        assert user["email"] == "m@example.com"
        assert user["admin"] is False
        assert user["profileUpdatable"] is False
        assert user["disableUIAccess"] is False
        assert user["internalPasswordDisabled"] is False
        assert user["groups"] == ["readers"]
        assert user["realm"] == "internal"
        resp, _ = await a.call("POST", "api/security/users/mig", json={"admin": True})
        assert resp.status == 200
        _, user = await a.call("GET", "api/security/users/mig")
        assert user["admin"] is True
        assert user["email"] == "m@example.com"
        # the password survived the partial update
        resp, _ = await a.call("GET", "api/system/version", auth=basic("mig", "S3cret!"))
        assert resp.status == 200
        _, users = await a.call("GET", "api/security/users")
        assert {"name": "mig", "uri": a.art("api/security/users/mig"), "realm": "internal"} in users
        resp, _ = await a.call("DELETE", "api/security/users/mig")
        assert resp.status == 200
        resp, body = await a.call("GET", "api/security/users/mig")
        assert resp.status == 404
        assert body["errors"][0]["status"] == 404


async def test_user_validation_and_password_disabled_users() -> None:
    async with running() as a:
        resp, _ = await a.call("PUT", "api/security/users/u1", json={"email": "u@x"})
        assert resp.status == 400
        resp, _ = await a.call("PUT", "api/security/users/u1", json={"password": "p"})
        assert resp.status == 400
        resp, _ = await a.call(
            "PUT", "api/security/users/u1", json={"email": "u@x", "internalPasswordDisabled": True}
        )
        assert resp.status == 201


async def test_plus_in_path_is_a_space() -> None:
    async with running() as a:
        resp, _ = await a.call(
            "PUT", "api/security/users/john+doe", json={"email": "j@x", "password": "p"}
        )
        assert resp.status == 201
        _, user = await a.call("GET", "api/security/users/john%20doe")
        assert user["name"] == "john doe"
        resp, _ = await a.call("PUT", "api/security/groups/dev+team", json={})
        assert resp.status == 201
        _, group = await a.call("GET", "api/security/groups/dev%20team")
        assert group["name"] == "dev team"


async def test_group_crud_members_and_realm_round_trip() -> None:
    async with running() as a:
        await a.user("u1")
        await a.user("u2")
        body = {
            "name": "ldap-devs",
            "description": "from LDAP",
            "realm": "ldap",
            "realmAttributes": "ldapGroupName=devs;groupsStrategy=STATIC",
            "userNames": ["u1"],
        }
        resp, _ = await a.call("PUT", "api/security/groups/ldap-devs", json=body)
        assert resp.status == 201
        resp, group = await a.call("GET", "api/security/groups/ldap-devs")
        assert resp.status == 200
        assert group["realm"] == "ldap"
        assert group["realmAttributes"] == "ldapGroupName=devs;groupsStrategy=STATIC"
        assert group["autoJoin"] is False
        assert group["adminPrivileges"] is False
        assert "userNames" not in group
        _, group = await a.call("GET", "api/security/groups/ldap-devs?includeUsers=true")
        assert group["userNames"] == ["u1"]
        resp, _ = await a.call("POST", "api/security/groups/ldap-devs", json={"userNames": ["u2"]})
        assert resp.status == 200
        _, group = await a.call("GET", "api/security/groups/ldap-devs?includeUsers=true")
        assert group["userNames"] == ["u2"]
        assert group["realm"] == "ldap"
        _, user = await a.call("GET", "api/security/users/u2")
        assert user["groups"] == ["ldap-devs"]
        resp, _ = await a.call(
            "PUT", "api/security/groups/bad", json={"autoJoin": True, "adminPrivileges": True}
        )
        assert resp.status == 400
        _, groups = await a.call("GET", "api/security/groups")
        assert groups == [{"name": "ldap-devs", "uri": a.art("api/security/groups/ldap-devs")}]
        resp, _ = await a.call("DELETE", "api/security/groups/ldap-devs")
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/security/groups/ldap-devs")
        assert resp.status == 404


async def test_permission_target_v2_crud() -> None:
    async with running() as a:
        await a.repo("r")
        target = {
            "name": "pt",
            "repo": {
                "repositories": ["r", "ANY LOCAL"],
                "actions": {"users": {"u": ["read", "write"]}},
            },
        }
        resp, _ = await a.call("POST", "api/v2/security/permissions/pt", json=target)
        assert resp.status == 201
        resp, _ = await a.call("POST", "api/v2/security/permissions/pt", json=target)
        assert resp.status == 409
        resp, body = await a.call("GET", "api/v2/security/permissions/pt")
        assert resp.status == 200
        assert body["repo"]["include-patterns"] == ["**"]
        assert body["repo"]["exclude-patterns"] == [""]
        assert body["repo"]["repositories"] == ["r", "ANY LOCAL"]
        assert body["repo"]["actions"] == {"users": {"u": ["read", "write"]}, "groups": {}}
        target["build"] = {"actions": {"users": {"u": ["read"]}}}
        resp, _ = await a.call("PUT", "api/v2/security/permissions/pt", json=target)
        assert resp.status == 200
        _, body = await a.call("GET", "api/v2/security/permissions/pt")
        assert body["build"]["repositories"] == ["artifactory-build-info"]
        resp, _ = await a.call("PUT", "api/v2/security/permissions/pt2", json={"name": "pt2"})
        assert resp.status == 201
        _, listing = await a.call("GET", "api/v2/security/permissions")
        assert {"name": "pt", "uri": a.art("api/v2/security/permissions/pt")} in listing
        resp, _ = await a.call("DELETE", "api/v2/security/permissions/pt")
        assert resp.status == 200
        resp, _ = await a.call("GET", "api/v2/security/permissions/pt")
        assert resp.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 65},
        {"repo": {"repositories": ["r"], "actions": {"users": {"u": ["fly"]}}}},
        {"repo": {"repositories": ["no-such-repo"]}},
        {"repo": {"repositories": ["r"], "include-patterns": ["a" * 1025]}},
    ],
)
async def test_permission_target_validation(body: dict[str, object]) -> None:
    async with running() as a:
        await a.repo("r")
        name = str(body.get("name", "pt"))
        resp, _ = await a.call("PUT", f"api/v2/security/permissions/{name}", json=body)
        assert resp.status == 400


async def test_permission_target_v1_letters_and_patterns() -> None:
    async with running() as a:
        await a.repo("r")
        body = {
            "name": "legacy",
            "includesPattern": "org/**,com/**",
            "excludesPattern": "",
            "repositories": ["r"],
            "principals": {"users": {"u": ["r", "w"]}, "groups": {"g": ["m", "d"]}},
        }
        resp, _ = await a.call("PUT", "api/security/permissions/legacy", json=body)
        assert resp.status == 201
        _, v2 = await a.call("GET", "api/v2/security/permissions/legacy")
        assert v2["repo"]["include-patterns"] == ["org/**", "com/**"]
        assert v2["repo"]["actions"]["users"] == {"u": ["read", "write"]}
        assert v2["repo"]["actions"]["groups"] == {"g": ["manage", "delete"]}
        _, v1 = await a.call("GET", "api/security/permissions/legacy")
        assert v1["includesPattern"] == "org/**,com/**"
        assert v1["principals"]["users"] == {"u": ["r", "w"]}


async def test_reader_cannot_deploy_deployer_can() -> None:
    async with running() as a:
        await a.repo("r")
        reader = await a.user("reader")
        deployer = await a.user("deployer")
        await a.grant("readers", ["r"], users={"reader": ["read"]})
        await a.grant(
            "deployers",
            ["ANY LOCAL"],
            users={"deployer": ["read", "write"]},
            include=["allowed/**"],
        )
        resp = await a.deploy("r/allowed/f.bin", b"x", auth=reader)
        assert resp.status == 403
        resp = await a.deploy("r/allowed/f.bin", b"x", auth=deployer)
        assert resp.status == 201
        resp = await a.deploy("r/elsewhere/f.bin", b"x", auth=deployer)
        assert resp.status == 403
        async with a.session.get(a.art("r/allowed/f.bin"), headers=reader) as dl:
            assert dl.status == 200


async def test_overwrite_needs_delete_unless_checksums_match() -> None:
    old, new = b"version one", b"version two"
    async with running() as a:
        await a.repo("r")
        dep = await a.user("dep")
        await a.grant("dep", ["r"], users={"dep": ["read", "write"]})
        assert (await a.deploy("r/f.bin", old, auth=dep)).status == 201
        # same bytes with matching checksum headers: not an overwrite
        same = {"X-Checksum-Sha1": digests(old)["sha1"]}
        assert (await a.deploy("r/f.bin", old, auth=dep, headers=same)).status == 201
        same256 = {"X-Checksum-Sha256": digests(old)["sha256"]}
        assert (await a.deploy("r/f.bin", old, auth=dep, headers=same256)).status == 201
        # no checksum headers: treated as an overwrite
        assert (await a.deploy("r/f.bin", old, auth=dep)).status == 403
        assert (await a.deploy("r/f.bin", new, auth=dep)).status == 403
        await a.grant("dep", ["r"], users={"dep": ["read", "write", "delete"]})
        assert (await a.deploy("r/f.bin", new, auth=dep)).status == 201
        info = a.emulator.item("r", "f.bin")
        assert info is not None
        assert info.sha1 == digests(new)["sha1"]


async def test_group_membership_grants_permissions() -> None:
    async with running() as a:
        await a.repo("r")
        await a.group("deployers")
        frank = await a.user("frank", groups=["deployers"])
        await a.grant("g", ["r"], groups={"deployers": ["write"]})
        assert (await a.deploy("r/f.bin", b"x", auth=frank)).status == 201
        await a.group("admins", adminPrivileges=True)
        gina = await a.user("gina", groups=["admins"])
        resp, _ = await a.call("GET", "api/security/users", auth=gina)
        assert resp.status == 200


async def test_anonymous_only_when_enabled_and_granted() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        await a.grant("anon", ["r"], users={"anonymous": ["read"]})
        resp, _ = await a.call("GET", "r/f.bin", auth={})
        assert resp.status == 401
    async with running(ArtifactoryOptions(anonymous_access=True)) as a:
        await a.repo("r")
        await a.repo("private")
        await a.deploy("r/f.bin", b"x")
        await a.deploy("private/f.bin", b"x")
        await a.grant("anon", ["r"], users={"anonymous": ["read"]})
        resp, _ = await a.call("GET", "r/f.bin", auth={})
        assert resp.status == 200
        resp, body = await a.call("GET", "private/f.bin", auth={})
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'
        assert body == {"errors": [{"status": 401, "message": "Bad credentials"}]}
        resp = await a.deploy("r/g.bin", b"x", auth={})
        assert resp.status == 401


async def test_hide_unauthorized_turns_403_into_404() -> None:
    async with running(ArtifactoryOptions(hide_unauthorized=True)) as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        hank = await a.user("hank")
        resp, _ = await a.call("GET", "r/f.bin", auth=hank)
        assert resp.status == 404
        resp, _ = await a.call("GET", "api/storage/r/f.bin", auth=hank)
        assert resp.status == 404
        assert (await a.deploy("r/g.bin", b"x", auth=hank)).status == 404


async def test_security_endpoints_are_admin_only() -> None:
    async with running() as a:
        ivy = await a.user("ivy")
        for method, path in [
            ("GET", "api/security/users"),
            ("GET", "api/security/groups"),
            ("PUT", "api/security/groups/g"),
            ("GET", "api/v2/security/permissions"),
            ("POST", "api/v2/security/permissions/x"),
            ("GET", "api/security/users/admin"),
        ]:
            resp, body = await a.call(method, path, auth=ivy, json={})
            assert resp.status == 403, path
            assert body["errors"][0]["status"] == 403
        resp, me = await a.call("GET", "api/security/users/ivy", auth=ivy)
        assert resp.status == 200
        assert me["name"] == "ivy"
