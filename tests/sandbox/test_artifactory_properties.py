"""Fidelity of item properties (reference §2.2, §4): grammar, set/get/delete, JSON PATCH."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from artifactory_helpers import running

from transfer.sandbox.artifactory import ArtifactoryOptions
from transfer.sandbox.artifactory.properties import (
    PropertyError,
    parse_matrix,
    parse_property_list,
)

pytestmark = pytest.mark.anyio

PROPS_TYPE = "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1;b=2", {"a": ["1"], "b": ["2"]}),
        ("a=1|b=2", {"a": ["1"], "b": ["2"]}),
        ("a=1,2,3", {"a": ["1", "2", "3"]}),
        ("a=1\\=1", {"a": ["1=1"]}),
        ("a=x\\,y;b=p\\|q\\;r", {"a": ["x,y"], "b": ["p|q;r"]}),
        ("a=back\\\\slash", {"a": ["back\\slash"]}),
        ("  a = spaced  ; b=2 ", {"a": ["spaced"], "b": ["2"]}),
        ("flag", {"flag": [""]}),
        ("a=1=2;b=3", {"b": ["3"]}),
        ("a=1;a=2", {"a": ["1", "2"]}),
        ("ünï=çødé", {"ünï": ["çødé"]}),
    ],
)
def test_property_list_grammar(text: str, expected: dict[str, list[str]]) -> None:
    assert parse_property_list(text, 2400) == expected


@pytest.mark.parametrize("text", ["a b=1", "a@b=1", "k/x=1", "k\\=x=1", "=v"])
def test_forbidden_keys_are_rejected(text: str) -> None:
    with pytest.raises(PropertyError):
        parse_property_list(text, 2400)


def test_matrix_values_are_decoded_then_split_on_unescaped_commas() -> None:
    assert parse_matrix(["k=a%2Cb", "e=x%5C%2Cy", "m+=1", "n"]) == {
        "k": ["a", "b"],
        "e": ["x,y"],
        "m": ["1"],
        "n": [""],
    }


async def test_set_get_round_trip_with_awkward_characters() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        # values with ; , | = \ sent escaped (backslash as %5C), as jfrog-client-go and dohq do
        props = "semi=a\\;b;comma=c\\,d|pipe=e\\|f;eq=g\\=h;slash=i\\\\j;multi=1,2"
        resp, _ = await a.call("PUT", f"api/storage/r/f.bin?properties={quote(props)}")
        assert resp.status == 204
        resp, body = await a.call("GET", "api/storage/r/f.bin?properties")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == PROPS_TYPE
        assert resp.headers["Cache-Control"] == "no-store"
        assert body == {
            "properties": {
                "semi": ["a;b"],
                "comma": ["c,d"],
                "pipe": ["e|f"],
                "eq": ["g=h"],
                "slash": ["i\\j"],
                "multi": ["1", "2"],
            },
            "uri": a.art("api/storage/r/f.bin"),
        }
        resp, body = await a.call("GET", "api/storage/r/f.bin?properties=eq,multi")
        assert set(body["properties"]) == {"eq", "multi"}
        # replace per key, other keys untouched
        resp, _ = await a.call("PUT", "api/storage/r/f.bin?properties=multi=3")
        assert a.emulator.properties("r", "f.bin")["multi"] == ["3"]
        assert a.emulator.properties("r", "f.bin")["eq"] == ["g=h"]


async def test_no_properties_is_404_with_reference_message() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        expected = {"errors": [{"status": 404, "message": "No properties could be found."}]}
        resp, body = await a.call("GET", "api/storage/r/f.bin?properties")
        assert resp.status == 404
        assert body == expected
        await a.call("PUT", "api/storage/r/f.bin?properties=a=1")
        resp, body = await a.call("GET", "api/storage/r/f.bin?properties=zzz")
        assert resp.status == 404
        assert body == expected
        resp, body = await a.call("GET", "api/storage/nope/f.bin?properties")
        assert resp.status == 404
        assert body == expected


async def test_delete_properties_and_recursion() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/d/one.bin", b"1")
        await a.deploy("r/d/sub/two.bin", b"2")
        resp, _ = await a.call("PUT", "api/storage/r/d?properties=team=core;x=1")
        assert resp.status == 204
        assert a.emulator.properties("r", "d/sub/two.bin") == {"team": ["core"], "x": ["1"]}
        resp, _ = await a.call("PUT", "api/storage/r/d?properties=only=top&recursive=0")
        assert "only" in a.emulator.properties("r", "d")
        assert "only" not in a.emulator.properties("r", "d/one.bin")
        resp, _ = await a.call("DELETE", "api/storage/r/d?properties=team,only")
        assert resp.status == 204
        assert a.emulator.properties("r", "d/one.bin") == {"x": ["1"]}
        assert "team" not in a.emulator.properties("r", "d")
        resp, _ = await a.call("PUT", "api/storage/r/missing.bin?properties=a=1")
        assert resp.status == 404


async def test_bad_property_input_is_400() -> None:
    async with running(ArtifactoryOptions(max_property_value_length=10)) as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        resp, body = await a.call("PUT", f"api/storage/r/f.bin?properties={quote('bad key=1')}")
        assert resp.status == 400
        assert body["errors"][0]["status"] == 400
        resp, _ = await a.call("PUT", "api/storage/r/f.bin?properties=k=" + "v" * 11)
        assert resp.status == 400
        resp, _ = await a.call("PATCH", "api/metadata/r/f.bin", json={"props": {"k": "v" * 11}})
        assert resp.status == 400
        resp = await a.deploy("r/g.bin;k=" + "v" * 11, b"x")
        assert resp.status == 400
        assert a.emulator.properties("r", "f.bin") == {}


async def test_default_value_length_limit_is_2400() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        ok, _ = await a.call("PATCH", "api/metadata/r/f.bin", json={"props": {"k": "v" * 2400}})
        assert ok.status == 200
        bad, _ = await a.call("PATCH", "api/metadata/r/f.bin", json={"props": {"k": "v" * 2401}})
        assert bad.status == 400


async def test_patch_metadata_sets_unicode_newlines_and_removes_with_null() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        awkward = "line1\nline2;a,b|c=d\\e ✓ 日本"
        resp, _ = await a.call(
            "PATCH",
            "api/metadata/r/f.bin",
            json={"props": {"desc": awkward, "multi": ["x,y", "z"], "gone": "soon"}},
        )
        assert resp.status == 200
        resp, body = await a.call("GET", "api/storage/r/f.bin?properties")
        assert body["properties"] == {"desc": [awkward], "multi": ["x,y", "z"], "gone": ["soon"]}
        resp, _ = await a.call("PATCH", "api/metadata/r/f.bin", json={"props": {"gone": None}})
        assert resp.status == 200
        assert "gone" not in a.emulator.properties("r", "f.bin")
        resp, _ = await a.call("PATCH", "api/metadata/r/f.bin", data=b"not json")
        assert resp.status == 400
        resp, _ = await a.call("PATCH", "api/metadata/r/nope.bin", json={"props": {"a": "b"}})
        assert resp.status == 404


async def test_setting_properties_needs_annotate() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        carol = await a.user("carol")
        await a.grant("carol", ["r"], users={"carol": ["read", "write"]})
        resp, _ = await a.call("PUT", "api/storage/r/f.bin?properties=a=1", auth=carol)
        assert resp.status == 403
        resp, _ = await a.call(
            "PATCH", "api/metadata/r/f.bin", auth=carol, json={"props": {"a": "1"}}
        )
        assert resp.status == 403
        # matrix params on deploy are dropped silently without annotate
        resp = await a.deploy("r/g.bin;a=1", b"y", auth=carol)
        assert resp.status == 201
        assert a.emulator.properties("r", "g.bin") == {}
        await a.grant("carol", ["r"], users={"carol": ["read", "write", "annotate"]})
        resp, _ = await a.call("PUT", "api/storage/r/f.bin?properties=a=1", auth=carol)
        assert resp.status == 204
        resp = await a.deploy("r/h.bin;a=1", b"z", auth=carol)
        assert a.emulator.properties("r", "h.bin") == {"a": ["1"]}


async def test_metadata_patch_success_status_is_an_option() -> None:
    async with running(ArtifactoryOptions(metadata_patch_status=204)) as a:
        await a.repo("meta-local")
        await a.deploy("meta-local/f.bin", b"x")
        resp, _ = await a.call("PATCH", "api/metadata/meta-local/f.bin", json={"props": {"k": "v"}})
        assert resp.status == 204
        _, body = await a.call("GET", "api/storage/meta-local/f.bin?properties")
        assert body["properties"] == {"k": ["v"]}
