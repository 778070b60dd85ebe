"""Fidelity of the storage API (reference §3): file info, folder info, ?list."""

from __future__ import annotations

import pytest
from artifactory_helpers import Art, digests, running

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio

FILE_INFO = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"


async def _seed(a: Art) -> None:
    await a.repo("r")
    await a.deploy(
        "r/tools/app.tgz", b"app-bytes", headers={"X-Checksum-Sha1": digests(b"app-bytes")["sha1"]}
    )
    await a.deploy("r/tools/old/a.bin", b"a" * 1234)
    await a.deploy("r/readme.txt", b"read me")


async def test_file_info_fields_and_types() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("GET", "api/storage/r/tools/app.tgz")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == FILE_INFO
        sums = digests(b"app-bytes")
        assert body["repo"] == "r"
        assert body["path"] == "/tools/app.tgz"
        assert body["size"] == "9"
        assert body["checksums"] == sums
        assert body["uri"] == a.art("api/storage/r/tools/app.tgz")
        assert body["downloadUri"] == a.art("r/tools/app.tgz")
        assert body["originalChecksums"]["sha1"] == sums["sha1"]
        assert body["originalChecksums"]["sha256"] == sums["sha256"]
        for field in ("created", "lastModified", "lastUpdated"):
            assert body[field].endswith("Z")
        assert body["createdBy"] == "admin"
        assert body["modifiedBy"] == "admin"
        assert "children" not in body


async def test_folder_info_children_and_repo_root() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("GET", "api/storage/r/tools")
        assert resp.status == 200
        assert body["path"] == "/tools"
        assert body["children"] == [
            {"uri": "/app.tgz", "folder": False},
            {"uri": "/old", "folder": True},
        ]
        assert body["uri"] == a.art("api/storage/r/tools")
        assert "size" not in body
        resp, root = await a.call("GET", "api/storage/r")
        assert resp.status == 200
        assert root["path"] == "/"
        assert {"uri": "/tools", "folder": True} in root["children"]


async def test_missing_item_is_404_unable_to_find_item() -> None:
    async with running() as a:
        await a.repo("r")
        for path in ("api/storage/r/nope.bin", "api/storage/unknown-repo/x"):
            resp, body = await a.call("GET", path)
            assert resp.status == 404
            assert body == {"errors": [{"status": 404, "message": "Unable to find item"}]}


async def test_list_shallow_and_deep_with_number_sizes() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("GET", "api/storage/r/tools?list")
        assert resp.status == 200
        assert body["uri"] == a.art("api/storage/r/tools")
        assert [f["uri"] for f in body["files"]] == ["/app.tgz"]
        resp, body = await a.call("GET", "api/storage/r?list&deep=1&listFolders=1&mdTimestamps=1")
        by_uri = {f["uri"]: f for f in body["files"]}
        assert set(by_uri) == {
            "/readme.txt",
            "/tools",
            "/tools/app.tgz",
            "/tools/old",
            "/tools/old/a.bin",
        }
        assert by_uri["/tools"] == {
            "uri": "/tools",
            "size": -1,
            "lastModified": by_uri["/tools"]["lastModified"],
            "folder": True,
        }
        entry = by_uri["/tools/old/a.bin"]
        assert entry["size"] == 1234
        assert isinstance(entry["size"], int)
        assert entry["folder"] is False
        assert entry["sha1"] == digests(b"a" * 1234)["sha1"]
        assert entry["sha2"] == digests(b"a" * 1234)["sha256"]
        resp, body = await a.call("GET", "api/storage/r?list&deep=1")
        assert all(not f["folder"] for f in body["files"])
        resp, body = await a.call("GET", "api/storage/r?list&deep=1&depth=1&listFolders=1")
        assert {f["uri"] for f in body["files"]} == {"/readme.txt", "/tools"}


async def test_list_rejects_non_integer_flags_files_and_anonymous() -> None:
    async with running(ArtifactoryOptions(anonymous_access=True)) as a:
        await _seed(a)
        resp, body = await a.call("GET", "api/storage/r?list&deep=true")
        assert resp.status == 400
        assert body["errors"][0]["status"] == 400
        resp, _ = await a.call("GET", "api/storage/r/readme.txt?list")
        assert resp.status == 400
        resp, _ = await a.call("GET", "api/storage/r/missing?list")
        assert resp.status == 404
        await a.grant("anon-read", ["r"], users={"anonymous": ["read"]})
        resp, _ = await a.call("GET", "api/storage/r?list", auth={})
        assert resp.status == 403
        resp, _ = await a.call("GET", "api/storage/r/readme.txt", auth={})
        assert resp.status == 200


async def test_query_key_priority_list_wins_over_properties() -> None:
    async with running() as a:
        await _seed(a)
        resp, body = await a.call("GET", "api/storage/r/tools?properties&list")
        assert resp.status == 200
        assert "files" in body
        resp, body = await a.call("GET", "api/storage/r/tools?lastModified")
        assert resp.status == 200
        assert body["uri"].startswith(a.art("api/storage/r/tools/"))
        assert body["lastModified"].endswith("Z")


async def test_file_info_needs_read_permission() -> None:
    async with running() as a:
        await _seed(a)
        bob = await a.user("bob")
        resp, body = await a.call("GET", "api/storage/r/readme.txt", auth=bob)
        assert resp.status == 403
        assert body["errors"][0]["status"] == 403
        await a.grant("bob-read", ["r"], users={"bob": ["read"]}, include=["tools/**"])
        resp, _ = await a.call("GET", "api/storage/r/tools/app.tgz", auth=bob)
        assert resp.status == 200
        resp, body = await a.call("GET", "api/storage/r", auth=bob)
        assert resp.status == 200
        assert body["children"] == [{"uri": "/tools", "folder": True}]


async def test_file_info_original_checksums_are_only_the_sent_ones_and_sha256() -> None:
    data = b"deployed without checksum headers"
    async with running() as a:
        await a.repo("plain-local")
        await a.deploy("plain-local/f.bin", data)
        _, body = await a.call("GET", "api/storage/plain-local/f.bin")
        assert body["originalChecksums"] == {"sha256": digests(data)["sha256"]}
        assert body["checksums"] == digests(data)
