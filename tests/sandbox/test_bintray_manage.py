"""Creating, updating and deleting repositories, packages, versions and teams (reference 2.3,
3.3, 4.3, 5.2)."""

from __future__ import annotations

from typing import Any

import pytest
from bintray_org import ORG, TIMESTAMP, Harness, auth, running

pytestmark = pytest.mark.anyio


async def _call(
    h: Harness, method: str, path: str, user: str | None = "olivia", body: Any = None
) -> tuple[int, Any]:
    headers = auth(user) if user else None
    async with h.session.request(method, h.api_url(path), json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_repository_create_update_delete() -> None:
    async with running() as h:
        body = {"name": "tools", "type": "npm", "private": True, "desc": "d", "labels": ["x"]}
        status, created = await _call(h, "POST", f"/repos/{ORG}/tools", body=body)
        assert status == 201
        assert (created["name"], created["type"], created["private"]) == ("tools", "npm", True)
        assert created["package_count"] == 0
        assert TIMESTAMP.match(created["created"])
        assert await h.get_json(f"/repos/{ORG}/tools", "olivia") == created

        status, answer = await _call(h, "PATCH", f"/repos/{ORG}/tools", body={"desc": "new"})
        assert (status, answer) == (200, {"message": "success"})
        assert (await h.get_json(f"/repos/{ORG}/tools", "olivia"))["desc"] == "new"

        assert (await _call(h, "POST", f"/repos/{ORG}/tools", body=body))[0] == 409
        assert (await _call(h, "DELETE", f"/repos/{ORG}/tools"))[0] == 200
        assert (await _call(h, "GET", f"/repos/{ORG}/tools"))[0] == 404


@pytest.mark.parametrize(
    ("user", "body", "status"),
    [
        ("pat", {"type": "generic"}, 403),
        (None, {"type": "generic"}, 401),
        ("olivia", {"type": "bogus"}, 400),
        ("olivia", {"name": "other"}, 400),
        ("olivia", {"private": "yes"}, 400),
    ],
)
async def test_repository_create_refusals(user: str | None, body: Any, status: int) -> None:
    async with running() as h:
        assert (await _call(h, "POST", f"/repos/{ORG}/newrepo", user, body))[0] == status


async def test_package_and_version_lifecycle() -> None:
    async with running() as h:
        body = {"name": "widget", "desc": "W", "licenses": ["MIT"], "vcs_url": "https://x/w.git"}
        status, package = await _call(h, "POST", f"/packages/{ORG}/releases", "pat", body)
        assert status == 201
        assert (package["name"], package["repo"], package["versions"]) == ("widget", "releases", [])
        assert package["licenses"] == ["MIT"]
        status, answer = await _call(
            h, "PATCH", f"/packages/{ORG}/releases/widget", "pat", {"desc": "Widget"}
        )
        assert (status, answer) == (200, {"message": "success"})

        status, version = await _call(
            h, "POST", f"/packages/{ORG}/releases/widget/versions", "pat", {"name": "1.0"}
        )
        assert status == 201
        assert (version["name"], version["package"], version["published"]) == (
            "1.0",
            "widget",
            False,
        )
        status, _ = await _call(
            h, "PATCH", f"/packages/{ORG}/releases/widget/versions/1.0", "pat", {"vcs_tag": "v1"}
        )
        assert status == 200
        got = await h.get_json(f"/packages/{ORG}/releases/widget/versions/1.0", "pat")
        assert got["vcs_tag"] == "v1"
        assert (await h.get_json(f"/packages/{ORG}/releases/widget", "pat"))["desc"] == "Widget"

        dup = await _call(
            h, "POST", f"/packages/{ORG}/releases/widget/versions", "pat", {"name": "1.0"}
        )
        assert dup[0] == 409
        assert (await _call(h, "DELETE", f"/packages/{ORG}/releases/widget/versions/1.0", "pat"))[
            0
        ] == 200
        assert (await h.get_json(f"/packages/{ORG}/releases/widget", "pat"))["versions"] == []
        assert (await _call(h, "DELETE", f"/packages/{ORG}/releases/widget", "pat"))[0] == 200
        assert (await _call(h, "GET", f"/packages/{ORG}/releases/widget", "pat"))[0] == 404


async def test_package_writes_need_publish_rights_and_oss_fields() -> None:
    async with running() as h:
        assert (await _call(h, "POST", f"/packages/{ORG}/vault", "rita", {"name": "x"}))[0] == 403
        assert (await _call(h, "POST", f"/packages/{ORG}/releases", "pat", {}))[0] == 400
        # an OSS (non-premium) repository needs licenses and vcs_url
        assert (await _call(h, "POST", f"/packages/{ORG}/free", "olivia", {"name": "x"}))[0] == 400
        assert (await _call(h, "POST", f"/packages/{ORG}/releases", "pat", {"name": "core-lib"}))[
            0
        ] == 409


async def test_team_lifecycle() -> None:
    async with running() as h:
        body = {"name": "qa", "members": ["rita"], "allow_repo_creation": False}
        status, team = await _call(h, "POST", f"/orgs/{ORG}/teams", "olivia", body)
        assert status == 201
        assert team == {
            "name": "qa",
            "members": ["rita"],
            "permitted_repos": {},
            "allow_repo_creation": False,
            "business_unit": "",
        }
        status, team = await _call(
            h, "PATCH", f"/orgs/{ORG}/teams/qa", "olivia", {"members": ["rita", "pat"]}
        )
        assert (status, team["members"]) == (200, ["rita", "pat"])
        assert (await _call(h, "PATCH", f"/orgs/{ORG}/teams/qa", "olivia", {"members": ["otto"]}))[
            0
        ] == 400
        assert (await _call(h, "POST", f"/orgs/{ORG}/teams", "pat", body))[0] == 403
        assert (await _call(h, "DELETE", f"/orgs/{ORG}/teams/qa", "olivia"))[0] == 200
        assert (await h.get_json(f"/orgs/{ORG}/teams", "olivia"))["teams"] == [
            "publishers",
            "readers",
        ]


LINK = f"/repository/{ORG}/releases/links/{ORG}/free/freebie"


async def test_link_and_unlink_a_package() -> None:
    async with running() as h:
        status, answer = await _call(h, "PUT", LINK, "pat")
        assert (status, answer) == (201, {"message": "success"})
        listed = await h.get_json(f"/repos/{ORG}/releases/packages", "pat")
        assert {"name": "freebie", "linked": True} in listed
        package = await h.get_json(f"/packages/{ORG}/releases/freebie", "pat")
        assert package["repo"] == "free"
        assert package["linked_to_repos"] == ["releases"]
        assert (await _call(h, "PUT", LINK, "pat"))[0] == 201  # idempotent

        assert (await _call(h, "DELETE", LINK, "pat")) == (200, {"message": "success"})
        listed = await h.get_json(f"/repos/{ORG}/releases/packages", "pat")
        assert "freebie" not in [p["name"] for p in listed]
        assert (await _call(h, "DELETE", LINK, "pat"))[0] == 404


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("rita", LINK, 403),
        ("pat", f"/repository/{ORG}/releases/links/{ORG}/free/nothing", 404),
        ("pat", f"/repository/{ORG}/releases/links/{ORG}/releases/core-lib", 400),
    ],
)
async def test_link_refusals(user: str, path: str, status: int) -> None:
    async with running() as h:
        assert (await _call(h, "PUT", path, user))[0] == status
