"""Fidelity of the documented searches by name and checksum (reference 1.5, 2.2, 3.3, 4.3)."""

from __future__ import annotations

import hashlib

import pytest
from bintray_org import JAR_PATH, ORG, SECRET_PATH, running

pytestmark = pytest.mark.anyio


async def test_search_repos_finds_public_repositories_by_name_or_description() -> None:
    async with running() as h:
        by_name = await h.get_json("/search/repos?name=RELEASE")
        by_desc = await h.get_json("/search/repos?desc=release%20builds", "adam")
        private = await h.get_json("/search/repos?name=vault", "adam")
        full = await h.get_json(f"/repos/{ORG}/releases")
        async with h.session.get(h.api_url("/search/repos")) as resp:
            assert resp.status == 400
            assert "message" in await resp.json()
    assert by_name == [full]
    assert [r["name"] for r in by_desc] == ["releases"]
    assert private == []  # documented: public repositories only


async def test_search_packages_and_paging_headers() -> None:
    async with running() as h:
        async with h.session.get(h.api_url("/search/packages?name=pkg-&repo=many")) as resp:
            first = await resp.json()
            headers = resp.headers
        second = await h.get_json("/search/packages?name=pkg-&repo=many&start_pos=50")
        core = await h.get_json(f"/search/packages?desc=core&subject={ORG}")
        other = await h.get_json("/search/packages?name=core&subject=someone-else")
        package = await h.get_json(f"/packages/{ORG}/releases/core-lib")
    assert headers["X-RangeLimit-Total"] == "120"
    assert (headers["X-RangeLimit-StartPos"], headers["X-RangeLimit-EndPos"]) == ("0", "49")
    assert len(first) == len(second) == 50
    assert first[0]["name"] == "pkg-000"
    assert second[0]["name"] == "pkg-050"
    assert core == [package]
    assert other == []


async def test_search_users_by_name() -> None:
    async with running() as h:
        found = await h.get_json("/search/users?name=AD", "pat")
        user = await h.get_json("/users/adam", "pat")
    assert found == [user]


async def test_search_file_by_name_wildcards_and_by_sha1() -> None:
    async with running() as h:
        jars = await h.get_json("/search/file?name=core-lib-1.*.jar")
        files = await h.get_json(f"/packages/{ORG}/releases/core-lib/versions/1.2.0/files")
        jar = next(f for f in files if f["path"] == JAR_PATH)
        by_sha1 = await h.get_json(f"/search/file?sha1={jar['sha1']}&repo=releases")
        exact = await h.get_json("/search/file?name=core-lib-1")
        hidden = await h.get_json("/search/file?name=secret-tool-*")
        readable = await h.get_json("/search/file?name=secret-tool-*", "rita")
        model = next(f for f in h.emulator.org.iter_files() if f.path == SECRET_PATH)
        data = h.emulator.org.content.read(model.content_key, model.size, kind=model.kind)
    assert jar in jars
    assert all(f["name"].startswith("core-lib-1.") and f["name"].endswith(".jar") for f in jars)
    assert by_sha1 == [jar]
    assert exact == []  # the whole name must match
    assert hidden == []  # a private repository's files only for its readers
    assert [f["path"] for f in readable] == [SECRET_PATH]
    assert readable[0]["sha1"] == hashlib.sha1(data).hexdigest()


async def test_search_maven_packages_by_coordinates() -> None:
    async with running() as h:
        by_group = await h.get_json("/search/packages/maven?g=com.acme")
        by_both = await h.get_json("/search/packages/maven?g=com.*&a=core-lib")
        by_query = await h.get_json("/search/packages/maven?q=*:core-*")
        none = await h.get_json("/search/packages/maven?a=other")
        package = await h.get_json(f"/packages/{ORG}/releases/core-lib")
        async with h.session.get(h.api_url("/search/packages/maven")) as resp:
            assert resp.status == 400
    assert by_group == by_both == by_query == [package]
    assert package["system_ids"] == ["com.acme:core-lib"]
    assert none == []
