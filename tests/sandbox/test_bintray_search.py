"""Attribute searches over packages, versions and files (reference 7.2, 7.3)."""

from __future__ import annotations

from typing import Any

import pytest
from bintray_org import JAR_PATH, ORG, auth, running

pytestmark = pytest.mark.anyio


async def _search(path: str, query: Any, user: str | None = None) -> tuple[int, Any]:
    async with running() as h:
        headers = auth(user) if user else None
        async with h.session.post(h.api_url(path), json=query, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ([{"build": "[1000,2000]"}], ["core-lib"]),
        ([{"build": "[1234,1234]"}], ["core-lib"]),
        ([{"build": "]1234,]"}], []),
        ([{"build": "[,1234["}], []),
        ([{"build": [1, 1234]}], ["core-lib"]),
        ([{"channel": ["stable"]}], ["core-lib"]),
        ([{"channel": ["stable", "beta"]}], []),
        ([{"channel": "lts"}, {"build": "[1,]"}], ["core-lib"]),
        ([{"channel": "lts"}, {"build": "[2000,]"}], []),
        ([{"nope": "x"}], []),
    ],
)
async def test_package_search_clauses(query: Any, found: list[str]) -> None:
    status, body = await _search(f"/search/attributes/{ORG}/releases", query)
    assert status == 200
    assert [p["name"] for p in body] == found
    assert all(p["repo"] == "releases" and "attribute_names" in p for p in body)


async def test_underscore_attributes_need_publish_rights() -> None:
    query = [{"_internal": "]2019-01-01T00:00:00.000Z,]"}]
    status, body = await _search(f"/search/attributes/{ORG}/releases", query)
    assert (status, body) == (200, [])
    status, body = await _search(f"/search/attributes/{ORG}/releases", query, "pat")
    assert [p["name"] for p in body] == ["core-lib"]


async def test_version_search_with_values() -> None:
    path = f"/search/attributes/{ORG}/releases/core-lib/versions?attribute_values=1"
    status, body = await _search(path, [{"qa": [True]}])
    assert status == 200
    assert [v["name"] for v in body] == ["1.2.0"]
    assert body[0]["attributes"] == [{"name": "qa", "type": "boolean", "values": [True]}]


async def test_file_search_answers_file_objects() -> None:
    status, body = await _search(f"/files/{ORG}/releases/search/attributes", [{"origin": "ci"}])
    assert status == 200
    assert [(f["path"], f["package"], f["version"]) for f in body] == [
        (JAR_PATH, "core-lib", "1.2.0")
    ]
    assert len(body[0]["sha1"]) == 40


@pytest.mark.parametrize("query", [{}, [], [{"a": 1, "b": 2}], ["x"]])
async def test_malformed_queries_are_400(query: Any) -> None:
    status, body = await _search(f"/search/attributes/{ORG}/releases", query)
    assert status == 400
    assert "message" in body


async def test_private_repository_is_hidden() -> None:
    status, _ = await _search(f"/search/attributes/{ORG}/vault", [{"a": "b"}])
    assert status == 404
    status, _ = await _search(f"/files/{ORG}/vault/search/attributes", [{"a": "b"}], "rita")
    assert status == 200
