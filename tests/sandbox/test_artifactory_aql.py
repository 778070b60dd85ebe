"""Fidelity of the AQL subset (``POST /api/search/aql``) the Artifactory source lists with:
answer shape, files-only default, root path ".", properties, sorting, keyset criteria, dates,
limits, errors, and read permissions."""

from __future__ import annotations

from typing import Any

import pytest
from artifactory_helpers import Art, running

pytestmark = pytest.mark.anyio

PLAIN = {"Content-Type": "text/plain"}


async def aql(a: Art, query: str, **kwargs: Any) -> tuple[int, Any]:
    resp, body = await a.call("POST", "api/search/aql", data=query, headers=PLAIN, **kwargs)
    return resp.status, body


async def _seed(a: Art) -> None:
    await a.repo("r")
    await a.repo("other")
    await a.deploy("r/readme.txt", b"root")
    await a.deploy("r/b/two.bin;k=v1,v2;tag=x", b"two")
    await a.deploy("r/a/one.bin", b"one", headers={"X-Artifactory-Last-Modified": "1500000000000"})
    await a.deploy("r/a/z.bin", b"zz")
    await a.deploy("other/x.bin", b"x")


async def test_the_answer_has_results_and_range_and_finds_only_files_by_default() -> None:
    async with running() as a:
        await _seed(a)
        status, body = await aql(a, 'items.find({"repo":"r"})')
        assert status == 200
        assert set(body) == {"results", "range"}
        assert body["range"] == {"start_pos": 0, "end_pos": 4, "total": 4}
        rows = {(r["path"], r["name"]) for r in body["results"]}
        assert rows == {(".", "readme.txt"), ("a", "one.bin"), ("a", "z.bin"), ("b", "two.bin")}
        assert all(r["type"] == "file" and r["repo"] == "r" for r in body["results"])
        assert {"created", "created_by", "modified", "modified_by", "updated", "size"} <= set(
            body["results"][0]
        )
        status, body = await aql(a, 'items.find({"repo":"r","type":"folder"})')
        assert {r["name"] for r in body["results"]} == {"a", "b"}


async def test_include_sort_limit_and_properties() -> None:
    async with running() as a:
        await _seed(a)
        query = (
            'items.find({"repo":"r"}).include("repo","path","name","size","sha256",'
            '"actual_sha1","actual_md5","property").sort({"$asc":["path","name"]}).limit(3)'
        )
        status, body = await aql(a, query)
        assert status == 200
        assert [(r["path"], r["name"]) for r in body["results"]] == [
            (".", "readme.txt"),
            ("a", "one.bin"),
            ("a", "z.bin"),
        ]
        assert body["range"] == {"start_pos": 0, "end_pos": 3, "total": 3, "limit": 3}
        first = body["results"][0]
        assert set(first) == {"repo", "path", "name", "size", "sha256", "actual_sha1", "actual_md5"}
        assert first["size"] == 4
        status, body = await aql(
            a, 'items.find({"repo":"r","name":"two.bin"}).include("name","property")'
        )
        pairs = sorted((p["key"], p["value"]) for p in body["results"][0]["properties"])
        assert pairs == [("k", "v1"), ("k", "v2"), ("tag", "x")]


async def test_keyset_criteria_continue_after_the_last_key_and_dates_compare() -> None:
    async with running() as a:
        await _seed(a)
        after = (
            'items.find({"$and":[{"repo":"r"},{"$or":[{"path":{"$gt":"a"}},'
            '{"path":"a","name":{"$gt":"one.bin"}}]}]}).sort({"$asc":["path","name"]})'
        )
        _, body = await aql(a, after)
        assert [(r["path"], r["name"]) for r in body["results"]] == [
            ("a", "z.bin"),
            ("b", "two.bin"),
        ]
        recent = 'items.find({"repo":"r","modified":{"$gt":"2020-01-01T00:00:00.000+01:00"}})'
        _, body = await aql(a, recent)
        assert "one.bin" not in {r["name"] for r in body["results"]}
        assert len(body["results"]) == 3
        _, body = await aql(a, 'items.find({"name":{"$match":"*.bin"},"repo":"other"})')
        assert [r["name"] for r in body["results"]] == ["x.bin"]


@pytest.mark.parametrize(
    "query",
    [
        'builds.find({"name":"x"})',
        'items.find({"repo":"r","colour":"red"})',
        'items.find({"repo":"r"}).include("colour")',
        'items.find({"repo":"r"',
        'items.find({"repo":"r"}).limit(x)',
    ],
)
async def test_what_is_not_the_subset_is_a_400(query: str) -> None:
    async with running() as a:
        await _seed(a)
        status, body = await aql(a, query)
        assert status == 400
        assert body["errors"][0]["status"] == 400


async def test_a_user_sees_only_what_it_may_read_and_anonymous_is_refused() -> None:
    async with running() as a:
        await _seed(a)
        reader = await a.user("reader")
        await a.grant("read-other", ["other"], users={"reader": ["read"]})
        _, body = await aql(a, 'items.find({"type":"file"})', auth=reader)
        assert {(r["repo"], r["name"]) for r in body["results"]} == {("other", "x.bin")}
        status, _ = await aql(a, 'items.find({"repo":"r"})', auth={})
        assert status == 401
