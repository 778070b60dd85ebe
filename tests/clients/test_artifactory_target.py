"""The Artifactory and WebDAV targets against the Artifactory emulator (and small servers)."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from byte_streams import digests, pieces

from transfer.errors import (
    AuthError,
    ChecksumMismatch,
    ConflictError,
    IntegrityError,
    RemoteError,
    SizeMismatch,
)
from transfer.http import RetryPolicy
from transfer.models import Checksums
from transfer.pipeline.folder_probe import FolderProbe
from transfer.redaction import Secret
from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.sandbox.awkward import SEPARATOR_VALUE
from transfer.targets.artifactory import ArtifactoryTarget, choose_auth, parse_version
from transfer.targets.artifactory_paths import encode_item_path, matrix_parameters, matrix_suffix
from transfer.targets.base import Target
from transfer.targets.webdav import WebDavTarget

pytestmark = pytest.mark.anyio

REPO = "generic-local"
NO_RETRY = RetryPolicy(max_attempts=1)
AWKWARD_PATH = "dir ;x=1/a+b c:d%e ü,(1).bin"


@asynccontextmanager
async def serving(
    options: ArtifactoryOptions | None = None,
) -> AsyncIterator[tuple[ArtifactoryEmulator, str]]:
    emulator = ArtifactoryEmulator(
        options or ArtifactoryOptions(admin_user="admin", admin_password="password")
    )
    emulator.create_repository(REPO)
    try:
        async with TestServer(emulator.app) as server:
            yield emulator, str(server.make_url("/artifactory"))
    finally:
        emulator.close()


def admin_target(url: str, password: str = "password") -> ArtifactoryTarget:
    return ArtifactoryTarget(url, "admin", password=Secret(password), retry_policy=NO_RETRY)


async def test_check_access_reads_the_version() -> None:
    async with serving() as (_, url), admin_target(url) as target:
        assert isinstance(target, Target)
        info = await target.check_access()
    assert info.product == "artifactory"
    assert parse_version(info.version) >= (7,)
    assert info.capabilities.checksum_deploy
    assert info.capabilities.properties


async def test_bad_password_is_an_auth_error_and_old_versions_are_refused() -> None:
    async with serving() as (_, url), admin_target(url, "wrong") as target:
        with pytest.raises(AuthError):
            await target.check_access()
    old = ArtifactoryOptions(admin_user="admin", admin_password="password", version="5.11.0")
    async with serving(old) as (_, url), admin_target(url) as target:
        with pytest.raises(RemoteError, match="too old"):
            await target.check_access()


async def test_an_api_key_refused_by_jfrog_cloud_says_to_use_a_token() -> None:
    cloud = ArtifactoryOptions(admin_user="admin", admin_password="password", profile="cloud")
    async with serving(cloud) as (emulator, url):
        async with ArtifactoryTarget(
            url, api_key=Secret(emulator.admin_api_key), retry_policy=NO_RETRY
        ) as by_key:
            with pytest.raises(AuthError, match="no longer accepts API keys") as caught:
                await by_key.check_access()
        assert emulator.admin_api_key not in str(caught.value)
        async with ArtifactoryTarget(url, token=Secret(emulator.issue_admin_token())) as by_token:
            await by_token.check_access()


async def test_an_html_answer_is_a_clear_error() -> None:
    async def login_page(request: web.Request) -> web.Response:
        return web.Response(text="<html><title>Sign in</title></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", login_page)
    async with TestServer(app) as server, admin_target(str(server.make_url("/artifactory"))) as t:
        with pytest.raises(RemoteError, match="HTML page instead of Artifactory") as caught:
            await t.check_access()
    assert not caught.value.retryable


async def test_api_key_without_user_and_token_auth_work() -> None:
    async with serving() as (emulator, url):
        async with ArtifactoryTarget(url, api_key=Secret(emulator.admin_api_key)) as by_key:
            await by_key.check_access()
            token = await by_key.admin.create_access_token(
                username="admin", scope="applied-permissions/admin"
            )
        async with ArtifactoryTarget(url, token=Secret(token["access_token"])) as by_token:
            await by_token.check_access()
            assert await by_token.admin.get_repository(REPO) is not None
    assert choose_auth("u", api_key=Secret("k")).headers()["Authorization"].startswith("Basic ")
    assert "X-JFrog-Art-Api" in choose_auth(None, api_key=Secret("k")).headers()
    assert choose_auth("u", token=Secret("t")).headers() == {"Authorization": "Bearer t"}


async def test_deploy_streams_with_content_length_and_returns_server_checksums() -> None:
    data = bytes(range(256)) * 41  # 10,496 bytes in 11 chunks
    async with serving() as (emulator, url), admin_target(url) as target:
        stored = await target.deploy(
            REPO, AWKWARD_PATH, pieces(data), size=len(data), checksums=digests(data)
        )
        probed = await target.probe(REPO, AWKWARD_PATH)
        missing = await target.probe(REPO, "nothing/here.bin")
    assert stored.checksums == digests(data)
    assert stored.size == len(data)
    assert stored.path == AWKWARD_PATH
    assert probed is not None
    assert (probed.size, probed.checksums) == (len(data), digests(data))
    assert missing is None
    item = emulator.item(REPO, AWKWARD_PATH)
    assert item is not None
    assert item.size == len(data)
    assert item.properties == {}
    puts = [r for r in emulator.request_log if r.method == "PUT"]
    assert puts[-1].bytes_in == len(data)  # a Content-Length, not a chunked body


async def test_checksum_deploy_links_known_binaries_and_answers_none_otherwise() -> None:
    data = b"known content " * 1000
    async with serving() as (emulator, url), admin_target(url) as target:
        before = await target.checksum_deploy(REPO, "copy/one.bin", digests(data))
        await target.deploy(REPO, "orig.bin", pieces(data), size=len(data), checksums=digests(data))
        linked = await target.checksum_deploy(
            REPO, "copy/two.bin", Checksums(sha1=digests(data).sha1), {"origin": ["bintray"]}
        )
        nothing = await target.checksum_deploy(REPO, "copy/three.bin", Checksums())
    assert before is None
    assert nothing is None
    assert linked is not None
    assert linked.checksums.sha256 == digests(data).sha256
    assert emulator.item(REPO, "copy/one.bin") is None
    two = emulator.item(REPO, "copy/two.bin")
    assert two is not None
    assert two.properties == {"origin": ["bintray"]}


async def test_wrong_declared_checksum_is_an_integrity_error() -> None:
    data = b"the bytes that arrive"
    declared = Checksums(sha1=hashlib.sha1(b"the bytes we meant").hexdigest())
    async with serving() as (emulator, url), admin_target(url) as target:
        with pytest.raises(ChecksumMismatch) as caught:
            await target.deploy(REPO, "bad.bin", pieces(data), size=len(data), checksums=declared)
    assert isinstance(caught.value, IntegrityError)
    assert caught.value.retryable
    assert declared.sha1 in caught.value.expected
    assert emulator.item(REPO, "bad.bin") is None


@pytest.mark.parametrize("declared_size", [15, 25])
async def test_chunks_that_do_not_add_up_abort_the_upload(declared_size: int) -> None:
    data = b"x" * 20
    async with serving() as (emulator, url), admin_target(url) as target:
        with pytest.raises(SizeMismatch):
            await target.deploy(
                REPO, "short.bin", pieces(data, 5), size=declared_size, checksums=Checksums()
            )
    assert emulator.item(REPO, "short.bin") is None


async def test_a_conflict_that_is_not_about_checksums_stays_a_conflict() -> None:
    async with serving() as (emulator, url), admin_target(url) as target:
        emulator.create_repository("strict-local", excludesPattern="**/*.exe")
        with pytest.raises(ConflictError):
            await target.deploy(
                "strict-local", "tool.exe", pieces(b"MZ"), size=2, checksums=digests(b"MZ")
            )


async def test_properties_travel_as_matrix_params_only_when_safe() -> None:
    safe = {"bintray.repo": ["releases"], "build.number": ["42", "43"]}
    awkward = {
        "release.channel": ["stable", SEPARATOR_VALUE],
        "notes": ["line one\nline two", "unicode: résumé 日本 🚀"],
        "empty": [""],
    }
    async with serving() as (emulator, url), admin_target(url) as target:
        plain = await target.deploy(
            REPO, "p/plain.bin", pieces(b"a"), size=1, checksums=digests(b"a"), properties=safe
        )
        odd = await target.deploy(
            REPO, "p/odd.bin", pieces(b"b"), size=1, checksums=digests(b"b"), properties=awkward
        )
        assert plain.deferred_properties == {}
        assert odd.deferred_properties == {k: tuple(v) for k, v in awkward.items()}
        await target.set_properties(REPO, "p/odd.bin", odd.deferred_properties)
        read_back = await target.get_properties(REPO, "p/odd.bin")
        none = await target.get_properties(REPO, "p/missing.bin")
    assert emulator.properties(REPO, "p/plain.bin") == safe
    assert read_back == awkward
    assert none == {}


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_property_writes_accept_any_success_status(status: int) -> None:
    options = ArtifactoryOptions(
        admin_user="admin", admin_password="password", metadata_patch_status=status
    )
    async with serving(options) as (emulator, url), admin_target(url) as target:
        await target.deploy(REPO, "p/f.bin", pieces(b"a"), size=1, checksums=digests(b"a"))
        await target.set_properties(REPO, "p/f.bin", {"k": ("x;y",)})
    assert emulator.properties(REPO, "p/f.bin") == {"k": ["x;y"]}


def test_matrix_safety_rules() -> None:
    assert matrix_parameters({"a.b-c_d": ["v1", "1.0:x@y~z"]}) == (
        ";a.b-c_d=v1;a.b-c_d=1.0%3Ax%40y~z"
    )
    assert matrix_parameters({}) == ""
    for value in (";", ",", "|", "=", "\\", "a b", "+", "%", "/", "é", "\n", "x" * 2401):
        assert matrix_parameters({"k": [value]}) is None, value
    assert matrix_parameters({"bad key": ["v"]}) is None
    assert matrix_parameters({"k": ["x" * 2000]}) is None  # too long a URL: the PATCH then
    assert matrix_suffix({"k": ["a", "b"], "e": []}) == ";k=a;k=b;e="
    assert encode_item_path("r", "a;b/c+d e") == "r/a%3Bb/c%2Bd%20e"


async def test_admin_calls() -> None:
    permission = {
        "repo": {
            "repositories": [REPO],
            "include-patterns": ["**"],
            "exclude-patterns": [""],
            "actions": {"users": {"dev user": ["read", "write"]}, "groups": {"devs": ["read"]}},
        }
    }
    async with serving() as (_, url), admin_target(url) as target:
        admin = target.admin
        assert await admin.get_repository("new-local") is None
        await admin.create_repository("new-local", {"rclass": "local", "packageType": "generic"})
        await admin.update_repository("new-local", {"description": "from bintray"})
        repo = await admin.get_repository("new-local")
        keys = [r["key"] for r in await admin.list_repositories(type="local")]
        assert await admin.get_user("dev user") is None
        await admin.put_user("dev user", {"email": "dev@example.com", "password": "S3cret!x"})
        user = await admin.get_user("dev user")
        users = [u["name"] for u in await admin.list_users()]
        await admin.put_group("devs", {"description": "developers", "userNames": ["dev user"]})
        group = await admin.get_group("devs")
        assert await admin.get_permission("migrated") is None
        await admin.create_permission("migrated", permission)
        with pytest.raises(ConflictError):
            await admin.create_permission("migrated", permission)
        await admin.put_permission("migrated", permission)
        got = await admin.get_permission("migrated")
        await target.deploy(REPO, "s/file.txt", pieces(b"hi"), size=2, checksums=digests(b"hi"))
        signed = await admin.create_signed_url(REPO, "s/file.txt", valid_for_secs=60)
        async with aiohttp.ClientSession() as session, session.get(signed) as response:
            assert response.status == 200
            assert await response.read() == b"hi"
    assert repo is not None
    assert repo["description"] == "from bintray"
    assert "new-local" in keys
    assert user is not None
    assert user["email"] == "dev@example.com"
    assert "dev user" in users
    assert group is not None
    assert group["userNames"] == ["dev user"]
    assert got is not None
    assert got["repo"]["actions"]["users"]["dev user"] == ["read", "write"]


# --- WebDAV ---------------------------------------------------------------------------------


async def test_webdav_target_puts_with_content_length_and_probes_sizes() -> None:
    stored: dict[str, bytes] = {}
    seen: list[dict[str, Any]] = []

    async def put(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        stored[request.raw_path] = await request.read()
        return web.Response(status=201)

    async def head(request: web.Request) -> web.Response:
        body = stored.get(request.raw_path)
        if body is None:
            return web.Response(status=404)
        return web.Response(headers={"Content-Length": str(len(body))})

    app = web.Application()
    app.router.add_put("/dav/{tail:.*}", put)
    app.router.add_route("HEAD", "/dav/{tail:.*}", head)
    app.router.add_route("OPTIONS", "/dav/{tail:.*}", head)
    data = b"0123456789" * 1000
    async with (
        TestServer(app) as server,
        WebDavTarget(str(server.make_url("/dav")), retry_policy=NO_RETRY) as target,
    ):
        await target.check_access()
        assert await target.checksum_deploy(REPO, "x", digests(data)) is None
        result = await target.deploy(
            REPO,
            "a b/c+d.bin",
            pieces(data),
            size=len(data),
            checksums=digests(data),
            properties={"k": ["v"]},
        )
        probed = await target.probe(REPO, "a b/c+d.bin")
        absent = await target.probe(REPO, "nope")
    assert stored["/dav/generic-local/a%20b/c%2Bd.bin"] == data
    assert seen[0]["Content-Length"] == str(len(data))
    assert "Transfer-Encoding" not in seen[0]
    assert result.deferred_properties == {"k": ("v",)}
    assert probed is not None
    assert probed.size == len(data)
    assert absent is None


async def test_probe_falls_back_to_file_info_when_head_has_no_checksums() -> None:
    sha1, sha256 = "a" * 40, "b" * 64

    async def head(request: web.Request) -> web.Response:
        if "missing" in request.path:
            return web.Response(status=404)
        # a proxy that strips X-Checksum-* headers
        return web.Response(headers={"Content-Length": "5"})

    async def info(request: web.Request) -> web.Response:
        if request.match_info["tail"].endswith("folder"):
            return web.json_response({"repo": REPO, "path": "/folder", "children": []})
        checksums = {"sha1": sha1.upper(), "sha256": sha256, "md5": "c" * 32}
        return web.json_response({"size": "5", "checksums": checksums})

    app = web.Application()
    app.router.add_get("/artifactory/api/storage/{tail:.*}", info)
    app.router.add_route("HEAD", "/artifactory/{tail:.*}", head)
    async with TestServer(app) as server, admin_target(str(server.make_url("/artifactory"))) as t:
        found = await t.probe(REPO, "some/file.bin")
        absent = await t.probe(REPO, "missing.bin")
        with pytest.raises(ConflictError, match="folder"):
            await t.probe(REPO, "some/folder")
    assert found is not None
    assert found.size == 5
    assert found.checksums == Checksums(sha1=sha1, sha256=sha256, md5="c" * 32)
    assert absent is None


async def test_a_revoked_token_no_longer_exists_and_a_second_revoke_says_so() -> None:
    async with (
        serving() as (emulator, url),
        ArtifactoryTarget(url, api_key=Secret(emulator.admin_api_key)) as target,
    ):
        assert target.admin is not None
        issued = await target.admin.create_access_token(username="admin", expires_in=86400)
        token_id = str(issued["token_id"])
        assert await target.admin.get_access_token(token_id) is not None
        assert await target.admin.revoke_access_token(token_id) is True
        assert await target.admin.get_access_token(token_id) is None
        assert await target.admin.revoke_access_token(token_id) is False


async def test_a_listing_without_checksums_is_checked_with_a_probe() -> None:
    """A server whose ``?list`` entries carry no sha1/sha2: the folder probe does not take
    such an entry for the file's truth, it asks the path (HEAD) instead."""
    sha1, heads = "a" * 40, []

    async def storage(request: web.Request) -> web.Response:
        files = [{"uri": "/a.bin", "size": 5, "folder": False}]
        return web.json_response({"uri": "", "created": "", "files": files})

    async def head(request: web.Request) -> web.Response:
        heads.append(request.path)
        return web.Response(headers={"Content-Length": "5", "X-Checksum-Sha1": sha1})

    app = web.Application()
    app.router.add_get("/artifactory/api/storage/{tail:.*}", storage)
    app.router.add_route("HEAD", "/artifactory/{tail:.*}", head)
    async with TestServer(app) as server, admin_target(str(server.make_url("/artifactory"))) as t:
        found = await FolderProbe(t).probe(REPO, "lib/a.bin")
    assert found is not None
    assert (found.size, found.checksums.sha1) == (5, sha1)
    assert heads == [f"/artifactory/{REPO}/lib/a.bin"]


async def test_a_folder_listing_too_large_to_read_is_incomplete_and_probed_path_by_path() -> None:
    """A flat folder whose ``?list`` answer passes what a listing reads: not read on, not an
    error either; the probe asks each path with a HEAD. A deep listing (``verify``) reads on."""
    names = [f"f{n:05}.bin" for n in range(80_000)]  # ~7 MB of entries, past the 4 MiB read

    async def storage(request: web.Request) -> web.Response:
        files = [{"uri": f"/{n}", "size": 5, "folder": False, "sha1": "a" * 40} for n in names]
        return web.json_response({"uri": "", "created": "", "files": files})

    heads: list[str] = []

    async def head(request: web.Request) -> web.Response:
        heads.append(request.path)
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/artifactory/api/storage/{tail:.*}", storage)
    app.router.add_route("HEAD", "/artifactory/{tail:.*}", head)
    async with TestServer(app) as server, admin_target(str(server.make_url("/artifactory"))) as t:
        listing = await t.list_folder(REPO, "flat")
        assert listing is not None
        assert not listing.complete
        probe = FolderProbe(t)
        assert await probe.probe(REPO, "flat/new.bin") is None
        assert heads == [f"/artifactory/{REPO}/flat/new.bin"]
        deep = [f async for f in t.iter_files(REPO)]
        assert len(deep) == len(names)


async def test_a_deep_listing_is_read_an_entry_at_a_time_with_flat_memory() -> None:
    """``verify`` reads a whole repository's listing (250 bytes a file, 250 MB for a million):
    the entries come out as they arrive, and what is held stays a small fraction of it."""
    count, sha1, sent = 100_000, "b" * 40, [0]

    async def storage(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{\n  "uri" : "x",\n  "files" : [ ')
        for start in range(0, count, 1000):
            entries = (
                f'{{\n    "uri" : "/dir/f{n:07}.bin",\n    "size" : {n},\n    "lastModified" : '
                f'"2026-12-06T10:00:00.000Z",\n    "folder" : false,\n    "sha1" : "{sha1}"\n  }}'
                for n in range(start, min(count, start + 1000))
            )
            chunk = (", " if start else "") + ", ".join(entries)
            sent[0] += len(chunk)
            await response.write(chunk.encode())
        await response.write(b' ],\n  "created" : "2026-12-06T10:00:00.000Z"\n}')
        return response

    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"errors": [{"status": 404, "message": "no repo"}]}, status=404)

    app = web.Application()
    app.router.add_get(f"/artifactory/api/storage/{REPO}", storage)
    app.router.add_get("/artifactory/api/storage/gone", missing)
    async with TestServer(app) as server, admin_target(str(server.make_url("/artifactory"))) as t:
        tracemalloc.start()
        try:
            seen, total = 0, 0
            async for file in t.iter_files(REPO):
                assert file.path == f"dir/f{seen:07}.bin"
                assert (file.size, file.checksums.sha1) == (seen, sha1)
                seen, total = seen + 1, total + (file.size or 0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert [f async for f in t.iter_files("gone")] == []
    assert (seen, total) == (count, count * (count - 1) // 2)
    assert sent[0] > 15_000_000  # the answer: ~16 MB of JSON (decoded whole: several times it)
    assert peak < 6_000_000, peak  # held at once, this test's server included
