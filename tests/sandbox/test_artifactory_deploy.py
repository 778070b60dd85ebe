"""Fidelity of deploy and download (reference §2) against the Artifactory emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from artifactory_helpers import ADMIN, digests, running
from yarl import URL

from transfer.sandbox.artifactory import ArtifactoryOptions

pytestmark = pytest.mark.anyio

ITEM_CREATED = "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json"


async def test_deploy_returns_item_created_with_string_size_and_checksums() -> None:
    data = b"hello artifactory"
    sums = digests(data)
    async with running() as a:
        await a.repo("generic-local")
        resp, body = await a.call(
            "PUT",
            "generic-local/tools/app-1.0.tgz",
            data=data,
            headers={"X-Checksum-Sha1": sums["sha1"], "X-Checksum": sums["sha256"]},
        )
        assert resp.status == 201
        assert resp.headers["Content-Type"] == ITEM_CREATED
        download = a.art("generic-local/tools/app-1.0.tgz")
        assert resp.headers["Location"] == download
        assert body["repo"] == "generic-local"
        assert body["path"] == "/tools/app-1.0.tgz"
        assert body["size"] == str(len(data))
        assert body["downloadUri"] == download
        assert body["uri"] == download
        assert body["checksums"] == sums
        # what the client sent (the generic X-Checksum of length 64 is the SHA-256), the
        # unsent MD5 as null, as 7.x answers
        assert body["originalChecksums"] == {
            "sha1": sums["sha1"],
            "md5": None,
            "sha256": sums["sha256"],
        }
        assert body["createdBy"] == "admin"
        assert body["mimeType"] == "application/x-gzip"
        assert body["created"].endswith("Z")
        assert "." in body["created"]


async def test_deploy_answer_has_the_members_7x_sends_as_null() -> None:
    data = b"no checksum headers"
    sums = digests(data)
    async with running() as a:
        await a.repo("r")
        _, body = await a.call("PUT", "r/plain.bin", data=data)
        for member in ("lastModified", "modifiedBy", "lastUpdated", "properties", "remoteUrl"):
            assert member in body
            assert body[member] is None
        # 7.x records the SHA-256 it computed as the original one (seen from curl -T)
        assert body["originalChecksums"] == {"sha1": None, "md5": None, "sha256": sums["sha256"]}
    async with running(ArtifactoryOptions(response_nulls=False)) as a:
        await a.repo("r")
        _, body = await a.call("PUT", "r/plain.bin", data=data)
        assert None not in body.values()
        assert "remoteUrl" not in body
        assert body["originalChecksums"] == {"sha256": sums["sha256"]}


async def test_generic_checksum_header_is_typed_by_length() -> None:
    data = b"typed by length"
    sums = digests(data)
    async with running() as a:
        await a.repo("r")
        for algorithm in ("md5", "sha1", "sha256"):
            resp, body = await a.call(
                "PUT", f"r/{algorithm}.bin", data=data, headers={"X-Checksum": sums[algorithm]}
            )
            assert resp.status == 201
            sent = {k: v for k, v in body["originalChecksums"].items() if v and k != "sha256"}
            assert sent == ({} if algorithm == "sha256" else {algorithm: sums[algorithm]})
            assert body["originalChecksums"]["sha256"] == sums["sha256"]
        # the specific header wins over the generic one for the same algorithm
        resp, body = await a.call(
            "PUT",
            "r/both.bin",
            data=data,
            headers={"X-Checksum-Md5": sums["md5"], "X-Checksum": "0" * 32},
        )
        assert resp.status == 201


@pytest.mark.parametrize(
    "header", ["X-Checksum-Sha1", "X-Checksum-Sha256", "X-Checksum-Md5", "X-Checksum"]
)
async def test_checksum_mismatch_is_409_and_nothing_is_stored(header: str) -> None:
    wrong = {
        "X-Checksum-Sha1": "1" * 40,
        "X-Checksum-Sha256": "2" * 64,
        "X-Checksum-Md5": "3" * 32,
        "X-Checksum": "4" * 40,
    }[header]
    async with running() as a:
        await a.repo("r")
        resp, body = await a.call("PUT", "r/bad.bin", data=b"payload", headers={header: wrong})
        assert resp.status == 409
        assert body["errors"][0]["status"] == 409
        assert a.emulator.item("r", "bad.bin") is None
        assert a.emulator.blob_count() == 0
        assert list((a.emulator.storage_dir / "tmp").iterdir()) == []


async def test_server_generated_checksum_policy_ignores_mismatch() -> None:
    async with running() as a:
        await a.repo("r", checksumPolicyType="server-generated-checksums")
        resp = await a.deploy("r/f.bin", b"x", headers={"X-Checksum-Sha1": "1" * 40})
        assert resp.status == 201


async def test_checksum_deploy_201_when_known_404_when_not_and_dedups() -> None:
    data = os.urandom(64 * 1024)
    sums = digests(data)
    async with running() as a:
        await a.repo("r")
        probe = {
            "X-Checksum-Deploy": "true",
            "X-Checksum-Sha1": sums["sha1"],
            "X-Checksum-Sha256": sums["sha256"],
        }
        resp, body = await a.call("PUT", "r/first.bin", headers=probe)
        assert resp.status == 404
        assert body["errors"][0]["status"] == 404
        assert (await a.deploy("r/first.bin", data)).status == 201
        resp, body = await a.call("PUT", "r/copy/second.bin", headers=probe)
        assert resp.status == 201
        assert resp.headers["Content-Type"] == ITEM_CREATED
        assert body["checksums"] == sums
        assert body["size"] == str(len(data))
        # SHA-1 alone (jfrog-client-go style, SHA-256 in the generic header also works)
        resp, _ = await a.call(
            "PUT",
            "r/third.bin",
            headers={"X-Checksum-Deploy": "true", "X-Checksum": sums["sha256"]},
        )
        assert resp.status == 201
        assert a.emulator.blob_count() == 1
        blobs = [p for p in (a.emulator.storage_dir / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 1
        assert blobs[0].name == sums["sha1"]
        assert blobs[0] == a.emulator.blob_path(sums["sha1"])
        async with a.session.get(a.art("r/copy/second.bin"), headers=ADMIN) as dl:
            assert await dl.read() == data


async def test_checksum_deploy_without_checksum_uses_configured_status() -> None:
    async with running(ArtifactoryOptions(checksum_deploy_missing_status=400)) as a:
        await a.repo("r")
        resp, _ = await a.call("PUT", "r/x.bin", headers={"X-Checksum-Deploy": "true"})
        assert resp.status == 400
    async with running() as a:
        await a.repo("r")
        resp, _ = await a.call("PUT", "r/x.bin", headers={"X-Checksum-Deploy": "true"})
        assert resp.status == 404


async def test_checksum_deploy_false_is_a_normal_upload() -> None:
    async with running() as a:
        await a.repo("r")
        resp = await a.deploy("r/x.bin", b"abc", headers={"X-Checksum-Deploy": "false"})
        assert resp.status == 201


async def test_chunked_upload_is_accepted() -> None:
    chunks = [os.urandom(300_000) for _ in range(5)]

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async with running() as a:
        await a.repo("r")
        async with a.session.put(a.art("r/big.bin"), data=body(), headers=ADMIN) as resp:
            assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
            assert resp.status == 201
            created = await resp.json(content_type=None)
        assert created["checksums"] == digests(b"".join(chunks))
        assert created["size"] == str(sum(map(len, chunks)))


async def test_matrix_params_become_properties() -> None:
    async with running() as a:
        await a.repo("r")
        raw = a.art("r/dir/f.txt") + (
            ";build.name=my%5C%2Capp;env=dev%2Cqa;flag;env=prod;k+=v%20w;semi=a%3Bb%3Dc"
        )
        async with a.session.put(URL(raw, encoded=True), data=b"x", headers=ADMIN) as resp:
            assert resp.status == 201
        assert a.emulator.properties("r", "dir/f.txt") == {
            "build.name": ["my,app"],
            "env": ["dev", "qa", "prod"],
            "flag": [""],
            "k": ["v w"],
            "semi": ["a;b=c"],
        }
        # the stored path carries no matrix parameters
        assert a.emulator.files("r") == ["dir/f.txt"]


async def test_folder_put_creates_folder() -> None:
    async with running() as a:
        await a.repo("r")
        resp, body = await a.call("PUT", "r/a/b/")
        assert resp.status == 201
        assert body["path"] == "/a/b/"
        assert body["uri"] == a.art("r/a/b/")
        assert "size" not in body
        assert "checksums" not in body
        info = a.emulator.item("r", "a/b")
        assert info is not None
        assert info.folder


async def test_download_and_head_headers() -> None:
    data = b"0123456789" * 1000
    sums = digests(data)
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/d/file.bin", data)
        for method in ("GET", "HEAD"):
            async with a.session.request(method, a.art("r/d/file.bin"), headers=ADMIN) as resp:
                assert resp.status == 200
                assert resp.headers["X-Checksum-Sha1"] == sums["sha1"]
                assert resp.headers["X-Checksum-Sha256"] == sums["sha256"]
                assert resp.headers["X-Checksum-Md5"] == sums["md5"]
                assert resp.headers["X-Artifactory-Filename"] == "file.bin"
                assert resp.headers["Content-Length"] == str(len(data))
                assert resp.headers["Last-Modified"].endswith("GMT")
                assert await resp.read() == (data if method == "GET" else b"")
        resp, body = await a.call("GET", "r/d/missing.bin")
        assert resp.status == 404
        assert body["errors"][0]["status"] == 404


async def test_unknown_repo_is_404_and_remote_is_not_deployable() -> None:
    async with running() as a:
        resp = await a.deploy("nope/f.bin", b"x")
        assert resp.status == 404
        resp, _ = await a.call(
            "PUT",
            "api/repositories/remote1",
            json={"rclass": "remote", "url": "https://example.com/"},
        )
        assert resp.status == 200
        assert (await a.deploy("remote1/f.bin", b"x")).status == 404


async def test_virtual_without_default_deployment_repo_is_405() -> None:
    async with running() as a:
        await a.repo("local1")
        resp, _ = await a.call(
            "PUT", "api/repositories/virt", json={"rclass": "virtual", "repositories": ["local1"]}
        )
        assert resp.status == 200
        resp = await a.deploy("virt/f.bin", b"x")
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
        resp, _ = await a.call(
            "POST", "api/repositories/virt", json={"defaultDeploymentRepo": "local1"}
        )
        assert resp.status == 200
        assert (await a.deploy("virt/f.bin", b"x")).status == 201
        assert a.emulator.item("local1", "f.bin") is not None
        async with a.session.get(a.art("virt/f.bin"), headers=ADMIN) as dl:
            assert await dl.read() == b"x"


async def test_repository_include_exclude_patterns_give_409() -> None:
    async with running() as a:
        await a.repo("r", includesPattern="org/**", excludesPattern="**/*.tmp")
        assert (await a.deploy("r/org/a.jar", b"x")).status == 201
        assert (await a.deploy("r/com/a.jar", b"x")).status == 409
        assert (await a.deploy("r/org/a.tmp", b"x")).status == 409


async def test_admin_may_override_timestamps_and_users() -> None:
    async with running() as a:
        await a.repo("r")
        resp, body = await a.call(
            "PUT",
            "r/old.bin",
            data=b"x",
            headers={
                "X-Artifactory-Created": "1000000000000",
                "X-Artifactory-Last-Modified": "1000000001000",
                "X-Artifactory-Created-By": "bintray-user",
            },
        )
        assert resp.status == 201
        assert body["created"] == "2001-09-09T01:46:40.000Z"
        assert body["createdBy"] == "bintray-user"
        _, info = await a.call("GET", "api/storage/r/old.bin")
        assert info["lastModified"] == "2001-09-09T01:46:41.000Z"


async def test_delete_item_releases_blob() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/a.bin", b"same")
        await a.deploy("r/b.bin", b"same")
        resp, _ = await a.call("DELETE", "r/a.bin")
        assert resp.status == 204
        assert a.emulator.blob_count() == 1
        resp, _ = await a.call("DELETE", "r/b.bin")
        assert a.emulator.blob_count() == 0
        assert not any(p.is_file() for p in (a.emulator.storage_dir / "blobs").rglob("*"))
        resp, _ = await a.call("DELETE", "r/b.bin")
        assert resp.status == 404


async def test_sink_mode_keeps_checksums_but_not_bytes() -> None:
    data = os.urandom(200_000)
    sums = digests(data)
    async with running(ArtifactoryOptions(sink=True)) as a:
        await a.repo("r")
        resp, body = await a.call("PUT", "r/f.bin", data=data)
        assert resp.status == 201
        assert body["checksums"] == sums
        assert not (a.emulator.storage_dir / "blobs").exists()
        resp, body = await a.call("GET", "r/f.bin")
        assert resp.status == 404
        assert "sink" in body["errors"][0]["message"].lower()
        _, info = await a.call("GET", "api/storage/r/f.bin")
        assert info["size"] == str(len(data))
        # checksum deploy still works against sizes + checksums
        resp, _ = await a.call(
            "PUT",
            "r/g.bin",
            headers={"X-Checksum-Deploy": "true", "X-Checksum-Sha256": sums["sha256"]},
        )
        assert resp.status == 201


async def test_temporary_storage_is_removed_on_close() -> None:
    async with running() as a:
        root = a.emulator.storage_dir
        assert root.exists()
    assert not root.exists()


async def test_request_log_records_decoded_path_without_matrix() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/with%20space/f.bin;a=b", b"12345")
        puts = [r for r in a.emulator.request_log if r.method == "PUT" and r.status == 201]
        assert len(puts) == 1
        assert puts[0].path == "/artifactory/r/with space/f.bin"
        assert puts[0].bytes_in == 5
        assert puts[0].user == "admin"
        assert puts[0].bytes_out > 0
