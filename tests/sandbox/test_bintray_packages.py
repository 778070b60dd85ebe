"""Packages, versions, attributes and statistics (reference 4.2, 5.1, 7.1, 11)."""

from __future__ import annotations

import pytest
from bintray_org import AWK_PACKAGE, AWK_VERSION, ORG, TIMESTAMP, auth, encoded, running

pytestmark = pytest.mark.anyio

PACKAGE_KEYS = {
    "name",
    "repo",
    "owner",
    "desc",
    "labels",
    "attribute_names",
    "licenses",
    "custom_licenses",
    "followers_count",
    "created",
    "updated",
    "website_url",
    "issue_tracker_url",
    "vcs_url",
    "linked_to_repos",
    "permissions",
    "maturity",
    "versions",
    "latest_version",
    "rating",
    "rating_count",
    "system_ids",
}
PUBLISHER_PACKAGE_KEYS = {
    "github_repo",
    "github_release_notes_file",
    "public_download_numbers",
    "public_stats",
}
CORE = f"/packages/{ORG}/releases/core-lib"


async def test_package_fields_for_anonymous_and_publisher() -> None:
    async with running() as h:
        anon = await h.get_json(CORE)
        pub = await h.get_json(CORE, "pat")
    assert set(anon) == PACKAGE_KEYS
    assert set(pub) == PACKAGE_KEYS | PUBLISHER_PACKAGE_KEYS
    assert pub["github_repo"] == "acme/core-lib"
    assert isinstance(pub["public_stats"], bool)
    # newest first; the unpublished release candidate exists only for publishers
    assert anon["versions"] == ["1.2.0", "1.1.0"]
    assert pub["versions"] == ["2.0.0-rc", "1.2.0", "1.1.0"]
    assert anon["latest_version"] == pub["latest_version"] == "1.2.0"
    assert anon["attribute_names"] == ["build", "channel"]
    assert pub["attribute_names"] == ["build", "channel", "_internal"]
    assert TIMESTAMP.match(anon["created"])
    assert TIMESTAMP.match(anon["updated"])
    assert anon["issue_tracker_url"] is None
    assert isinstance(anon["rating"], int)
    assert anon["system_ids"] == ["com.acme:core-lib"]


async def test_attribute_values_replaces_names_with_a_list_of_attributes() -> None:
    async with running() as h:
        body = await h.get_json(CORE + "?attribute_values=1")
    assert "attribute_names" not in body
    assert body["attributes"] == [
        {"name": "build", "type": "number", "values": [1234]},
        {"name": "channel", "type": "string", "values": ["stable", "lts"]},
    ]


async def test_version_fields_latest_and_unpublished() -> None:
    async with running() as h:
        anon = await h.get_json(CORE + "/versions/1.2.0")
        pub = await h.get_json(CORE + "/versions/1.2.0", "pat")
        latest = await h.get_json(CORE + "/versions/_latest")
        rc = await h.get_json(CORE + "/versions/2.0.0-rc", "pat")
        async with h.session.get(h.api_url(CORE + "/versions/2.0.0-rc")) as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "Version '2.0.0-rc' was not found"}
    assert anon["published"] is True
    assert rc["published"] is False
    assert latest["name"] == "1.2.0"
    assert set(anon) == {
        "name",
        "desc",
        "package",
        "repo",
        "owner",
        "labels",
        "published",
        "attribute_names",
        "created",
        "updated",
        "released",
        "ordinal",
        "rating_count",
    }
    assert set(pub) - set(anon) == {
        "vcs_tag",
        "github_release_notes_file",
        "github_use_tag_release_notes",
    }
    assert pub["vcs_tag"] == "v1.2.0"
    assert anon["package"] == "core-lib"
    assert anon["ordinal"] == 2
    assert TIMESTAMP.match(anon["released"])
    assert anon["attribute_names"] == ["qa"]


async def test_awkward_names_are_percent_decoded() -> None:
    async with running() as h:
        body = await h.get_json(encoded("packages", ORG, "releases", AWK_PACKAGE))
        version = await h.get_json(
            encoded("packages", ORG, "releases", AWK_PACKAGE, "versions", AWK_VERSION)
        )
        # a literal '+' in a path stays a plus; it never means a space there
        literal = encoded("packages", ORG, "releases", AWK_PACKAGE).replace("%2B", "+")
        assert "+" in literal
        again = await h.get_json(literal)
    assert body["name"] == AWK_PACKAGE
    assert again["name"] == AWK_PACKAGE
    assert body["versions"] == [AWK_VERSION]
    assert version["name"] == AWK_VERSION
    assert version["package"] == AWK_PACKAGE


async def test_package_attributes_get_filter_and_hidden_names() -> None:
    async with running() as h:
        anon = await h.get_json(CORE + "/attributes")
        pub = await h.get_json(CORE + "/attributes", "pat")
        picked = await h.get_json(CORE + "/attributes?names=channel,_internal", "pat")
        version = await h.get_json(CORE + "/versions/1.2.0/attributes")
    assert anon == [
        {"name": "build", "type": "number", "values": [1234]},
        {"name": "channel", "type": "string", "values": ["stable", "lts"]},
    ]
    assert pub[-1] == {"name": "_internal", "type": "date", "values": ["2019-01-02T03:04:05.678Z"]}
    assert [a["name"] for a in picked] == ["channel", "_internal"]
    assert version == [{"name": "qa", "type": "boolean", "values": [True]}]


async def test_attribute_writes_replace_merge_delete() -> None:
    async with running() as h:
        url = h.api_url(CORE + "/versions/1.1.0/attributes")
        async with h.session.post(
            url,
            headers=auth("pat"),
            json=[
                {"name": "att1", "values": ["val1"], "type": "STRING"},
                {"name": "n", "values": [3]},
            ],
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == [
                {"name": "att1", "type": "string", "values": ["val1"]},
                {"name": "n", "type": "number", "values": [3]},
            ]
        async with h.session.patch(
            url,
            headers=auth("pat"),
            json=[{"name": "att1", "values": ["val2"]}, {"name": "n", "values": None}],
        ) as resp:
            assert await resp.json() == [{"name": "att1", "type": "string", "values": ["val2"]}]
        async with h.session.post(
            url, headers=auth("pat"), json=[{"name": "mixed", "values": [1, "a"]}]
        ) as resp:
            assert resp.status == 400
        async with h.session.post(url, headers=auth("mona"), json=[]) as resp:
            assert resp.status == 403
            assert await resp.json() == {"message": "forbidden"}
        async with h.session.post(url, json=[]) as resp:
            assert resp.status == 401
        async with h.session.delete(url, headers=auth("pat")) as resp:
            assert await resp.json() == {"message": "success"}
        assert await h.get_json(CORE + "/versions/1.1.0/attributes") == []
        async with h.session.delete(
            h.api_url(CORE + "/attributes?names=build"), headers=auth("pat")
        ) as resp:
            assert resp.status == 200
        names = [a.name for a in h.emulator.org.repos["releases"].packages["core-lib"].attributes]
        assert names == ["channel", "_internal"]


async def test_total_downloads_stats() -> None:
    async with running() as h:
        url = h.api_url(CORE + "/stats/total_downloads")
        window = {"from": "2019-01-01T00:00:00.000Z", "to": "2019-02-01T00:00:00.000Z"}
        async with h.session.post(url, headers=auth("pat"), json=window) as resp:
            body = await resp.json()
        async with h.session.post(
            h.api_url(CORE + "/versions/1.2.0/stats/total_downloads"), headers=auth("pat"), json={}
        ) as resp:
            single = await resp.json()
        async with h.session.post(url, headers=auth("mona"), json=window) as resp:
            assert resp.status == 403
        async with h.session.post(
            h.api_url(f"/packages/{ORG}/free/freebie/stats/total_downloads"),
            headers=auth("adam"),
            json={},
        ) as resp:
            assert resp.status == 403
            assert await resp.json() == {
                "message": "This resource is only available for premium packages."
            }
    assert body["from"] == window["from"]
    assert {"version": "1.2.0", "count": 42} in body["records"]
    assert {"version": "1.1.0", "count": 7} in body["records"]
    assert single["records"] == [{"version": "1.2.0", "count": 42}]


async def test_a_linked_package_read_through_the_linking_repository_names_its_owner() -> None:
    # §4.1 vs §4.2: only the list says "linked"; the package object has linked_to_repos
    async with running() as h:
        listed = await h.get_json(f"/repos/{ORG}/debs/packages")
        via_link = await h.get_json(f"/packages/{ORG}/debs/core-lib")
        owned = await h.get_json(CORE)
    assert {"name": "core-lib", "linked": True} in listed
    assert set(via_link) == PACKAGE_KEYS
    assert "linked" not in via_link
    assert via_link["repo"] == owned["repo"] == "releases"
    assert via_link["linked_to_repos"] == owned["linked_to_repos"] == ["debs"]
