"""Users, the organisation, teams, repository permissions and products (reference 2, 8)."""

from __future__ import annotations

import pytest
from bintray_org import ORG, TIMESTAMP, auth, encoded, running

pytestmark = pytest.mark.anyio


async def test_get_user_fields_and_quota_only_for_self() -> None:
    async with running() as h:
        other = await h.get_json("/users/pat", "otto")
        own = await h.get_json("/users/pat", "pat")
        async with h.session.get(h.api_url("/users/nobody"), headers=auth("pat")) as resp:
            assert resp.status == 404
            assert "was not found" in (await resp.json())["message"]
    assert set(other) == {
        "name",
        "full_name",
        "gravatar_id",
        "repos",
        "organizations",
        "followers_count",
        "registered",
    }
    assert other["organizations"] == [ORG]
    assert isinstance(other["followers_count"], int)
    assert TIMESTAMP.match(other["registered"])
    assert isinstance(own["quota_used_bytes"], int)


async def test_get_org_fields_and_types() -> None:
    async with running() as h:
        body = await h.get_json(f"/orgs/{ORG}", "olivia")
    assert body["name"] == ORG
    assert body["owner"] == "olivia"
    assert body["full_name"] == "ACME Corp"
    assert body["repos"] == ["releases", "vault", "debs", "many", "free"]
    assert isinstance(body["followers_count"], int)
    assert TIMESTAMP.match(body["registered"])
    assert [m["type"] for m in body["members"]] == ["owner", "admin", "member", "member", "member"]


async def test_teams_list_get_and_not_found_message() -> None:
    async with running() as h:
        assert await h.get_json(f"/orgs/{ORG}/teams", "adam") == {
            "teams": ["publishers", "readers"]
        }
        team = await h.get_json(f"/orgs/{ORG}/teams/publishers", "adam")
        assert team["name"] == "publishers"
        assert team["members"] == ["pat"]
        assert team["permitted_repos"] == {"releases": "publish", "vault": "read"}
        async with h.session.get(
            h.api_url(f"/orgs/{ORG}/teams/ghost"), headers=auth("adam")
        ) as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "Team 'ghost' was not found"}


async def test_teams_on_a_free_org_are_400_none_premium() -> None:
    async with running() as h:
        h.emulator.org.premium = False
        async with h.session.get(h.api_url(f"/orgs/{ORG}/teams"), headers=auth("adam")) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "message": f"This action is not allowed for none-premium subject {ORG}"
            }


async def test_repository_permissions_array_single_and_writes() -> None:
    async with running() as h:
        perms = await h.get_json(f"/repos/{ORG}/vault/permissions", "adam")
        assert sorted(perms, key=lambda p: p["team"]) == [
            {"team": "publishers", "permission": "read"},
            {"team": "readers", "permission": "read"},
        ]
        single = await h.get_json(f"/repos/{ORG}/releases/permissions/publishers", "adam")
        assert single == {"team": "publishers", "permission": "publish"}
        async with h.session.get(
            h.api_url(f"/repos/{ORG}/releases/permissions/publishers"), headers=auth("pat")
        ) as resp:
            assert resp.status == 403
        async with h.session.put(
            h.api_url(f"/repos/{ORG}/debs/permissions"),
            headers=auth("adam"),
            json={"team": "readers", "permission": "admin"},
        ) as resp:
            assert await resp.json() == {"message": "success"}
        assert h.emulator.org.teams["readers"].permitted_repos["debs"] == "admin"
        async with h.session.delete(
            h.api_url(f"/repos/{ORG}/debs/permissions/readers"), headers=auth("adam")
        ) as resp:
            assert resp.status == 200
        assert "debs" not in h.emulator.org.teams["readers"].permitted_repos


async def test_products_list_is_an_array_and_product_fields() -> None:
    async with running() as h:
        assert await h.get_json(f"/products/{ORG}", "pat") == [{"name": "widget"}]
        product = await h.get_json(f"/products/{ORG}/widget", "pat")
        async with h.session.get(h.api_url(encoded("products", ORG, "nope"))) as resp:
            assert resp.status == 404
    assert product["packages"] == ["releases/core-lib", "debs/widget-deb"]
    assert product["display_name"] == "Widget Suite"
    assert TIMESTAMP.match(product["created"])
    assert set(product) == {
        "name",
        "display_name",
        "created",
        "desc",
        "website_url",
        "vcs_url",
        "packages",
        "versions",
    }
