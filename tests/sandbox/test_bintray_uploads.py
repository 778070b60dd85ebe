"""Uploads: ``PUT /content/:s/:r/:p/:v/:path`` (reference 6.3), as the publishing clients send."""

from __future__ import annotations

import hashlib
import io

import pytest
from bintray_org import ORG, auth, encoded_path, running

pytestmark = pytest.mark.anyio

DATA = b"uploaded bytes\n" * 100
PATH = "com/acme/core-lib/3.0.0/core-lib-3.0.0.jar"
UPLOAD = f"/content/{ORG}/releases/core-lib/3.0.0/{PATH}"


async def test_upload_creates_the_version_unpublished_until_published() -> None:
    async with running() as h:
        async with h.session.put(h.api_url(UPLOAD), data=DATA, headers=auth("pat")) as resp:
            assert resp.status == 201
            assert await resp.json() == {"message": "success"}
        package = await h.get_json(f"/packages/{ORG}/releases/core-lib", "pat")
        assert package["versions"][0] == "3.0.0"
        anon = await h.get_json(f"/packages/{ORG}/releases/core-lib")
        assert "3.0.0" not in anon["versions"]
        files = await h.get_json(
            f"/packages/{ORG}/releases/core-lib/versions/3.0.0/files?include_unpublished=1", "pat"
        )
        assert [(f["path"], f["size"], f["sha1"]) for f in files] == [
            (PATH, len(DATA), hashlib.sha1(DATA).hexdigest())
        ]
        async with h.session.get(h.dl_url(f"/{ORG}/releases/{encoded_path(PATH)}")) as resp:
            assert resp.status == 404


async def test_published_upload_downloads_its_bytes() -> None:
    async with running() as h:
        url = h.api_url(UPLOAD + "?publish=1")
        async with h.session.put(url, data=DATA, headers=auth("pat")) as resp:
            assert resp.status == 201
        async with h.session.get(h.dl_url(f"/{ORG}/releases/{encoded_path(PATH)}")) as resp:
            assert resp.status == 200
            assert await resp.read() == DATA
        version = await h.get_json(f"/packages/{ORG}/releases/core-lib/versions/3.0.0")
        assert version["published"] is True


async def test_existing_path_needs_override() -> None:
    async with running() as h:
        url = h.api_url(UPLOAD + "?publish=1")
        async with h.session.put(url, data=DATA, headers=auth("pat")) as resp:
            assert resp.status == 201
        async with h.session.put(url, data=b"other", headers=auth("pat")) as resp:
            assert resp.status == 409
            assert PATH in (await resp.json())["message"]
        override = h.api_url(UPLOAD + "?publish=1&override=1")
        async with h.session.put(override, data=b"other", headers=auth("pat")) as resp:
            assert resp.status == 201
        async with h.session.get(h.dl_url(f"/{ORG}/releases/{encoded_path(PATH)}")) as resp:
            assert await resp.read() == b"other"


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        (None, UPLOAD, 401),
        ("rita", f"/content/{ORG}/vault/secret-tool/2.0/x.bin", 403),
        ("pat", f"/content/{ORG}/releases/no-such-package/1.0/x.bin", 404),
        ("pat", f"/content/{ORG}/no-such-repo/core-lib/1.0/x.bin", 404),
    ],
)
async def test_refused_uploads(user: str | None, path: str, status: int) -> None:
    async with running() as h:
        headers = auth(user) if user else None
        async with h.session.put(h.api_url(path), data=DATA, headers=headers) as resp:
            assert resp.status == status
            assert "message" in await resp.json()


async def test_publish_and_discard_count_the_pending_files() -> None:
    async with running() as h:
        for name in ("a.bin", "b.bin"):
            url = h.api_url(f"/content/{ORG}/releases/core-lib/3.0.0/{name}")
            async with h.session.put(url, data=DATA, headers=auth("pat")) as resp:
                assert resp.status == 201
        publish = h.api_url(f"/content/{ORG}/releases/core-lib/3.0.0/publish")
        async with h.session.post(publish, json={"discard": False}, headers=auth("pat")) as resp:
            assert resp.status == 200
            assert await resp.json() == {"files": 2}
        async with h.session.get(h.dl_url(f"/{ORG}/releases/a.bin")) as resp:
            assert await resp.read() == DATA

        url = h.api_url(f"/content/{ORG}/releases/core-lib/3.0.0/c.bin")
        async with h.session.put(url, data=DATA, headers=auth("pat")) as resp:
            assert resp.status == 201
        async with h.session.post(publish, json={"discard": True}, headers=auth("pat")) as resp:
            assert await resp.json() == {"files": 1}
        files = await h.get_json(
            f"/packages/{ORG}/releases/core-lib/versions/3.0.0/files?include_unpublished=1", "pat"
        )
        assert sorted(f["path"] for f in files) == ["a.bin", "b.bin"]


async def test_uploads_are_not_capped_at_one_mebibyte() -> None:
    big = bytes(range(256)) * (5 * 4096 + 3)  # a little over 5 MiB
    async with running() as h:
        url = h.api_url(f"/content/{ORG}/releases/core-lib/3.0.0/big.bin?publish=1")
        async with h.session.put(url, data=io.BytesIO(big), headers=auth("pat")) as resp:
            assert resp.status == 201
        async with h.session.get(h.dl_url(f"/{ORG}/releases/big.bin")) as resp:
            assert hashlib.sha256(await resp.read()).digest() == hashlib.sha256(big).digest()
