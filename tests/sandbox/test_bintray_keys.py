"""Access keys, entitlements and entitlement search (reference 9)."""

from __future__ import annotations

import pytest
from bintray_org import ORG, auth, basic, running

from transfer.sandbox.bintray import BintrayOptions

pytestmark = pytest.mark.anyio

KEYS = f"/orgs/{ORG}/access_keys"


async def test_access_key_list_get_without_password() -> None:
    async with running() as h:
        assert await h.get_json(KEYS, "adam") == {"access_keys": ["ci-key", "old-key"]}
        key = await h.get_json(KEYS + "/ci-key", "adam")
        async with h.session.get(h.api_url(KEYS), headers=auth("pat")) as resp:
            assert resp.status == 403
        async with h.session.get(h.api_url(KEYS + "/nope"), headers=auth("adam")) as resp:
            assert resp.status == 404
    assert "password" not in key
    assert key["username"] == f"ci-key@{ORG}"
    assert key["expiry"] == 4102444800000
    assert isinstance(key["white_cidrs"], list)


async def test_access_key_create_login_and_delete() -> None:
    async with running() as h:
        async with h.session.post(
            h.api_url(KEYS),
            headers=auth("adam"),
            json={"id": "new-key", "existence_check": {}, "api_only": True},
        ) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["username"] == f"new-key@{ORG}"
        assert len(created["password"]) == 40
        login = basic(created["username"], created["password"])
        async with h.session.get(h.api_url(f"/repos/{ORG}"), headers=login) as resp:
            assert resp.status == 200
        async with h.session.post(
            h.api_url(KEYS), headers=auth("adam"), json={"id": "new-key"}
        ) as resp:
            assert resp.status == 409
        async with h.session.delete(h.api_url(KEYS + "/new-key"), headers=auth("adam")) as resp:
            assert await resp.json() == {"message": "success"}
        async with h.session.get(h.api_url(f"/repos/{ORG}"), headers=login) as resp:
            assert resp.status == 401


async def test_access_keys_need_entitlement_management() -> None:
    async with running() as h:
        h.emulator.org.premium = False
        async with h.session.get(h.api_url(KEYS), headers=auth("adam")) as resp:
            assert resp.status == 403
            message = "This resource is only available for subjects with entitlement management."
            assert await resp.json() == {"message": message}


async def test_entitlement_lists_per_scope() -> None:
    async with running() as h:
        repo = await h.get_json(f"/repos/{ORG}/vault/entitlements", "adam")
        package = await h.get_json(f"/packages/{ORG}/releases/core-lib/entitlements", "adam")
        version = await h.get_json(
            f"/packages/{ORG}/releases/core-lib/versions/1.2.0/entitlements", "adam"
        )
        single = await h.get_json(f"/repos/{ORG}/vault/entitlements/ent-repo", "adam")
        async with h.session.get(
            h.api_url(f"/repos/{ORG}/vault/entitlements/ent-pkg"), headers=auth("adam")
        ) as resp:
            assert resp.status == 404  # exists, but in another scope
    assert repo == [
        {
            "id": "ent-repo",
            "access": "r",
            "access_keys": ["ci-key"],
            "path": "secret-tool",
            "tags": ["gold"],
        }
    ]
    assert single == repo[0]
    assert package == [{"id": "ent-pkg", "access": "rw", "access_keys": ["ci-key"], "tags": []}]
    assert [e["id"] for e in version] == ["ent-ver"]


async def test_entitlement_create_accepts_download_keys_and_patch_add_remove() -> None:
    async with running() as h:
        base = h.api_url(f"/repos/{ORG}/releases/entitlements")
        async with h.session.post(
            base,
            headers=auth("adam"),
            json={"access": "r", "download_keys": ["ci-key"], "path": "com"},
        ) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["access_keys"] == ["ci-key"]
        assert len(created["id"]) == 40
        async with h.session.patch(
            h.api_url(f"/repos/{ORG}/releases/entitlements/{created['id']}"),
            headers=auth("adam"),
            json={
                "access_keys_add": ["old-key"],
                "access_keys_remove": ["ci-key"],
                "tags_add": ["x"],
            },
        ) as resp:
            patched = await resp.json()
        assert patched["access_keys"] == ["old-key"]
        assert patched["tags"] == ["x"]
        async with h.session.post(
            base, headers=auth("adam"), json={"access": "r", "access_keys": ["ghost"]}
        ) as resp:
            assert resp.status == 400
        async with h.session.delete(
            h.api_url(f"/repos/{ORG}/releases/entitlements/{created['id']}"), headers=auth("adam")
        ) as resp:
            assert await resp.json() == {"message": "success"}
        assert len(h.emulator.org.entitlements) == 3


async def test_search_entitlements_by_key_and_depth() -> None:
    async with running() as h:
        deep = await h.get_json(
            f"/search/entitlements?access_key=ci-key&scope={ORG}&deep=true", "adam"
        )
        shallow_repo = await h.get_json(
            f"/search/entitlements?access_key=ci-key&scope={ORG}/releases", "adam"
        )
        deep_repo = await h.get_json(
            f"/search/entitlements?access_key=ci-key&scope={ORG}/releases&deep=true", "adam"
        )
        by_tag = await h.get_json(f"/search/entitlements?tag=gold&scope={ORG}&deep=true", "adam")
    assert sorted(e["id"] for e in deep) == ["ent-pkg", "ent-repo"]
    assert shallow_repo == []
    assert [e["id"] for e in deep_repo] == ["ent-pkg"]
    assert deep_repo[0]["repo"] == f"/{ORG}/releases"
    assert [e["id"] for e in by_tag] == ["ent-repo"]
    assert by_tag[0]["path"] == "secret-tool"
    # the documented result shape: no package or version, even for a package's entitlement
    for found in deep:
        assert set(found) == {"id", "repo", "path", "access", "access_keys", "tags"}
    assert deep_repo[0]["path"] == ""


async def test_search_entitlements_richer_shape_is_an_option() -> None:
    async with running(options=BintrayOptions(entitlement_search_scope=True)) as h:
        found = await h.get_json(
            f"/search/entitlements?access_key=ci-key&scope={ORG}/releases&deep=true", "adam"
        )
        listed = await h.get_json(f"/packages/{ORG}/releases/core-lib/entitlements", "adam")
    assert found[0]["package"] == "core-lib"
    assert "version" not in found[0]
    # the package's own list names it, which is how a client learns the scope without the option
    assert [e["id"] for e in listed] == ["ent-pkg"]
