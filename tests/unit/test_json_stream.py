"""``json_array_items``: the elements of one array of a JSON object, as the body arrives, in
whatever pieces it arrives."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transfer.http.json_stream import MalformedJson, json_array_items

pytestmark = pytest.mark.anyio


async def _pieces(parts: Sequence[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _cut(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


async def _items(parts: Sequence[bytes], key: str = "files", **kw: Any) -> list[Any]:
    return [item async for item in json_array_items(_pieces(parts), key, **kw)]


LISTING = {
    "uri": "http://h/artifactory/api/storage/repo",
    "created": "2026-12-06T10:00:00.000Z",
    "files": [
        {"uri": "/a/b.jar", "size": 1234567890123, "folder": False, "sha1": "ab" * 20},
        {"uri": "/é/ünï cödé €.bin", "size": 0, "folder": False, "sha2": "cd" * 32},
        {"uri": "/nested", "size": 7, "extra": {"deep": [1, 2.5, None, True, 'x"y']}},
    ],
    "after": [1, 2, {"files": "not this one"}],
}


async def test_the_elements_come_one_by_one_whatever_the_pieces() -> None:
    body = json.dumps(LISTING, indent=2, ensure_ascii=False).encode()
    expected = LISTING["files"]
    assert await _items([body]) == expected
    assert await _items([body[i : i + 1] for i in range(len(body))]) == expected  # byte by byte


@settings(max_examples=60, deadline=None)
@given(
    files=st.lists(
        st.dictionaries(
            st.text(max_size=5),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
                max_leaves=5,
            ),
            max_size=4,
        ),
        max_size=6,
    ),
    before=st.dictionaries(st.text(max_size=5).filter(lambda k: k != "files"), st.integers()),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    indent=st.sampled_from([None, 0, 2]),
)
def test_any_object_cut_anywhere_gives_what_json_loads_gives(
    files: list[dict[str, Any]], before: dict[str, int], cuts: list[int], indent: int | None
) -> None:
    import anyio

    body = json.dumps({**before, "files": files}, indent=indent, ensure_ascii=False).encode()
    got = anyio.run(_items, _cut(body, cuts))
    assert got == json.loads(body)["files"]


async def test_a_number_cut_between_two_pieces_is_read_whole() -> None:
    assert await _items([b'{"files": [12', b"34, 5", b"6]}"]) == [1234, 56]
    assert await _items([b'{"n": 12', b'3, "files": [1]}']) == [1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"uri": "x"}',  # no such key
        b'{"files": []}',
        b"{}",
        b' \n{ "files" : [ ] }\n',
    ],
)
async def test_no_elements(body: bytes) -> None:
    assert await _items([body]) == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[1, 2]", "expected '{'"),
        (b"", "cut short: expected '{'"),
        (b'{"files": {"a": 1}}', "expected '['"),
        (b'{"files": [1, 2', "cut short"),
        (b'{"files": [1 2]}', "expected ','"),
        (b'{"files": [tru]}', "not JSON"),
        (b'{1: "x"}', "expected a member name"),
        (b"<html>502 Bad Gateway</html>", "expected '{'"),
    ],
)
async def test_what_is_not_such_an_object_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(MalformedJson, match=re.escape(why)):
        await _items([body])


async def test_a_value_longer_than_the_limit_is_refused_before_it_is_all_read() -> None:
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        yield b'{"files": ["'
        while True:
            read += 1
            yield b"x" * 1000

    with pytest.raises(MalformedJson, match="longer than 10,000 characters"):
        async for _ in json_array_items(endless(), "files", value_limit=10_000):
            pass
    assert read <= 12
