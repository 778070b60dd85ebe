"""Repositories, restrictions and the paged package list (reference 1.5, 3, 4.1)."""

from __future__ import annotations

import pytest
from bintray_org import ORG, TIMESTAMP, auth, running

from transfer.sandbox.bintray import BintrayOptions

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, ["releases", "debs", "many", "free"]),
        ("mona", ["releases", "debs", "many", "free"]),
        ("rita", ["releases", "vault", "debs", "many", "free"]),
        ("adam", ["releases", "vault", "debs", "many", "free"]),
    ],
)
async def test_list_repos_shows_private_ones_only_to_readers(
    user: str | None, expected: list[str]
) -> None:
    async with running() as h:
        body = await h.get_json(f"/repos/{ORG}", user)
    assert body == [{"name": n, "owner": ORG} for n in expected]


async def test_get_repo_fields_and_types() -> None:
    async with running() as h:
        body = await h.get_json(f"/repos/{ORG}/releases")
    assert body["name"] == "releases"
    assert body["owner"] == ORG
    assert body["type"] == "maven"
    for key in ("private", "premium", "gpg_sign_metadata", "gpg_sign_files", "gpg_use_owner_key"):
        assert isinstance(body[key], bool), key
    assert body["labels"] == ["java"]
    assert body["package_count"] == 2
    assert TIMESTAMP.match(body["created"])
    assert "default_debian_distribution" not in body


@pytest.mark.parametrize(("as_deb", "kind"), [(False, "debian"), (True, "deb")])
async def test_debian_repo_type_is_configurable(as_deb: bool, kind: str) -> None:
    async with running(options=BintrayOptions(report_debian_as_deb=as_deb)) as h:
        body = await h.get_json(f"/repos/{ORG}/debs")
    assert body["type"] == kind
    assert body["default_debian_distribution"] == "wheezy"
    assert body["default_debian_architecture"] == "amd64"


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
async def test_head_is_an_existence_check(prefix: str) -> None:
    async with running() as h:
        for path, status in (
            (f"/repos/{ORG}/releases", 200),
            (f"/repos/{ORG}/nope", 404),
            (f"/repos/{ORG}/vault", 404),  # private: invisible to anonymous callers
            (f"/packages/{ORG}/releases/core-lib", 200),
            (f"/packages/{ORG}/releases/nope", 404),
            (f"/packages/{ORG}/releases/core-lib/versions/1.2.0", 200),
            (f"/packages/{ORG}/releases/core-lib/versions/9.9", 404),
        ):
            async with h.session.head(h.api_url(path, prefix)) as resp:
                assert resp.status == status, path
                assert await resp.read() == b""
                assert "X-RateLimit-Remaining" in resp.headers


async def test_missing_repo_message() -> None:
    async with running() as h:
        async with h.session.get(h.api_url(f"/repos/{ORG}/nope")) as resp:
            assert await resp.json() == {"message": "Repo 'nope' was not found"}
        async with h.session.get(h.api_url("/repos/ghost/nope")) as resp:
            assert await resp.json() == {"message": "Subject 'ghost' was not found"}


async def test_geo_and_ip_restrictions_for_admins() -> None:
    async with running() as h:
        geo = await h.get_json(f"/repos/{ORG}/vault/geo_restrictions", "adam")
        ip = await h.get_json(f"/repos/{ORG}/vault/ip_restrictions", "adam")
        async with h.session.get(
            h.api_url(f"/repos/{ORG}/vault/ip_restrictions"), headers=auth("rita")
        ) as resp:
            assert resp.status == 403
        async with h.session.get(
            h.api_url(f"/repos/{ORG}/free/ip_restrictions"), headers=auth("adam")
        ) as resp:
            assert resp.status == 403
            assert await resp.json() == {
                "message": "Your repo commercial type does not support IP restrictions."
            }
    assert geo == {"white_list": ["US", "CA"], "black_list": []}
    assert ip["white_cidrs"] == ["10.0.0.0/8"]
    assert ip["black_cidrs"] == []


async def test_package_pages_have_inclusive_end_pos() -> None:
    async with running() as h:
        seen: list[str] = []
        pages = []
        start = 0
        while True:
            async with h.session.get(
                h.api_url(f"/repos/{ORG}/many/packages?start_pos={start}"), headers=auth("mona")
            ) as resp:
                assert resp.status == 200
                body = await resp.json()
                total = int(resp.headers["X-RangeLimit-Total"])
                first = int(resp.headers["X-RangeLimit-StartPos"])
                end = int(resp.headers["X-RangeLimit-EndPos"])
            pages.append((total, first, end, len(body)))
            seen += [p["name"] for p in body]
            if end + 1 >= total:
                break
            start = end + 1
    assert pages == [(120, 0, 49, 50), (120, 50, 99, 50), (120, 100, 119, 20)]
    assert seen == [f"pkg-{i:03d}" for i in range(120)]
    assert all(isinstance(p, str) for p in seen)


async def test_package_list_items_anonymous_cap_and_start_name() -> None:
    async with running() as h:
        async with h.session.get(h.api_url(f"/repos/{ORG}/many/packages?start_pos=50")) as resp:
            assert await resp.json() == []
            assert resp.headers["X-RangeLimit-Total"] == "50"
        async with h.session.get(h.api_url(f"/repos/{ORG}/many/packages")) as resp:
            assert len(await resp.json()) == 50
        named = await h.get_json(f"/repos/{ORG}/many/packages?start_name=pkg-11", "mona")
        assert [p["name"] for p in named] == [f"pkg-11{i}" for i in range(10)]
        small = await h.get_json(f"/repos/{ORG}/debs/packages")
        async with h.session.get(h.api_url(f"/repos/{ORG}/debs/packages")) as resp:
            assert resp.headers["X-RangeLimit-Total"] == "2"
            assert resp.headers["X-RangeLimit-StartPos"] == "0"
            assert resp.headers["X-RangeLimit-EndPos"] == "1"
    # core-lib lives in releases and is linked into debs
    assert small == [{"name": "core-lib", "linked": True}, {"name": "widget-deb", "linked": False}]
