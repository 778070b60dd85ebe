"""Copy and move items (REST docs "Copy Item" / "Move Item"): file-system-like, dry runs, rights."""

from __future__ import annotations

import pytest
from artifactory_helpers import Art, running

pytestmark = pytest.mark.anyio

DATA = b"copy me\n" * 50


async def _seed(a: Art) -> None:
    await a.repo("src-local")
    await a.repo("dst-local")
    resp = await a.deploy("src-local/org/lib/1.0/lib-1.0.jar;tier=gold", DATA)
    assert resp.status == 201
    resp = await a.deploy("src-local/org/lib/1.0/lib-1.0.pom", b"<project/>")
    assert resp.status == 201


async def test_copy_folder_to_a_new_path_renames_it() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("POST", "api/copy/src-local/org/lib?to=/dst-local/com/lib")
        assert resp.status == 200
        assert body == {
            "messages": [
                {
                    "level": "INFO",
                    "message": "copying src-local:org/lib to dst-local:com/lib completed "
                    "successfully, 2 artifacts and 2 folders were copied",
                }
            ]
        }
        copied = a.emulator.item("dst-local", "com/lib/1.0/lib-1.0.jar")
        assert copied is not None
        assert copied.properties == {"tier": ["gold"]}
        assert a.emulator.files("dst-local") == [
            "com/lib/1.0/lib-1.0.jar",
            "com/lib/1.0/lib-1.0.pom",
        ]
        assert len(a.emulator.files("src-local")) == 2
        assert a.emulator.blob_count() == 2
        resp, _ = await a.call("GET", "dst-local/com/lib/1.0/lib-1.0.jar")
        assert resp.status == 200


async def test_copy_into_an_existing_folder_places_it_underneath() -> None:
    async with running() as a:
        await _seed(a)
        resp = await a.deploy("dst-local/com/readme.txt", b"hi")
        assert resp.status == 201
        resp, _ = await a.call(
            "POST", "api/copy/src-local/org/lib/1.0/lib-1.0.jar?to=/dst-local/com"
        )
        assert resp.status == 200
        assert a.emulator.files("dst-local") == ["com/lib-1.0.jar", "com/readme.txt"]


async def test_move_removes_the_source_and_dry_run_changes_nothing() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("POST", "api/move/src-local/org?to=/dst-local/org&dry=1")
        assert resp.status == 200
        assert body["messages"][0]["message"].endswith("2 artifacts and 3 folders were moved")
        assert a.emulator.files("dst-local") == []
        resp, body = await a.call("POST", "api/move/src-local/org?to=/dst-local/org")
        assert resp.status == 200
        assert a.emulator.files("src-local") == []
        assert a.emulator.files("dst-local") == [
            "org/lib/1.0/lib-1.0.jar",
            "org/lib/1.0/lib-1.0.pom",
        ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("api/copy/src-local/missing?to=/dst-local/x", 404),
        ("api/copy/src-local/org?to=/nowhere/x", 404),
        ("api/copy/src-local/org", 400),
        ("api/copy/src-local/org?to=/src-local/org/lib/inner", 409),
    ],
)
async def test_refusals(path: str, status: int) -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("POST", path)
        assert resp.status == status
        assert body["errors"][0]["status"] == status


async def test_rights_read_to_copy_delete_to_move_write_on_the_target() -> None:
    async with running() as a:
        await _seed(a)
        reader = await a.user("reader")
        await a.grant("read-src", ["src-local"], users={"reader": ["read"]})
        resp, _ = await a.call("POST", "api/copy/src-local/org?to=/dst-local/org", auth=reader)
        assert resp.status == 403
        await a.grant("write-dst", ["dst-local"], users={"reader": ["read", "write"]})
        resp, _ = await a.call("POST", "api/copy/src-local/org?to=/dst-local/org", auth=reader)
        assert resp.status == 200
        resp, _ = await a.call("POST", "api/move/src-local/org?to=/dst-local/moved", auth=reader)
        assert resp.status == 403
        assert len(a.emulator.files("src-local")) == 2
