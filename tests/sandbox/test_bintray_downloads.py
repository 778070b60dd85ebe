"""The download host: redirects, Range, auth, signed URLs, unpublished files, indexes (6.2, 10)."""

from __future__ import annotations

import hashlib
import re

import pytest
from bintray_org import (
    ACCESS_KEY,
    AWK_PATH,
    DRAFT_PATH,
    EXPIRED_KEY,
    JAR_PATH,
    ORG,
    SECRET_PATH,
    SECRET_SIZE,
    auth,
    basic,
    build_org,
    encoded_path,
    running,
)

from transfer.sandbox.bintray import BintrayOptions
from transfer.sandbox.orgdata import BintrayFile, Organization

pytestmark = pytest.mark.anyio

GDA = re.compile(r"[?&]__gda__=exp=(\d+)~hmac=[0-9a-f]{64}(&|$)")


def _model(org: Organization, path: str) -> BintrayFile:
    found: BintrayFile = next(f for f in org.iter_files() if f.path == path)
    return found


def _bytes(org: Organization, path: str) -> bytes:
    file = _model(org, path)
    return org.content.read(file.content_key, file.size, kind=file.kind)


async def test_download_redirects_to_cdn_and_bytes_match_the_listing() -> None:
    async with running() as h:
        url = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(url, allow_redirects=False) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
        assert location.startswith(str(h.dl.make_url("/_cdn/")))
        assert GDA.search(location)
        async with h.session.get(url) as resp:
            assert resp.status == 200
            data = await resp.read()
            assert resp.headers["Content-Length"] == str(len(data))
        listing = await h.get_json(f"/packages/{ORG}/releases/core-lib/versions/1.2.0/files")
    entry = next(f for f in listing if f["path"] == JAR_PATH)
    assert len(data) == entry["size"]
    assert hashlib.sha1(data).hexdigest() == entry["sha1"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]


async def test_cdn_honours_range_head_and_416() -> None:
    async with running() as h:
        expected = _bytes(h.emulator.org, JAR_PATH)
        url = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(url, allow_redirects=False) as resp:
            cdn = resp.headers["Location"]
        async with h.session.get(cdn, headers={"Range": "bytes=100-1123"}) as resp:
            assert resp.status == 206
            assert resp.headers["Content-Range"] == f"bytes 100-1123/{len(expected)}"
            assert resp.headers["Content-Length"] == "1024"
            assert await resp.read() == expected[100:1124]
        async with h.session.get(cdn, headers={"Range": "bytes=48000-"}) as resp:
            assert resp.status == 206
            assert await resp.read() == expected[48000:]
        async with h.session.get(cdn, headers={"Range": "bytes=-13"}) as resp:
            assert resp.status == 206
            assert await resp.read() == expected[-13:]
        async with h.session.get(cdn, headers={"Range": "bytes=999999-"}) as resp:
            assert resp.status == 416
            assert resp.headers["Content-Range"] == f"bytes */{len(expected)}"
        async with h.session.head(cdn) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(expected))
            assert resp.headers["Accept-Ranges"] == "bytes"
            assert await resp.read() == b""
        async with h.session.head(url, allow_redirects=False) as resp:
            assert resp.status == 302


async def test_cdn_token_expires_and_cannot_be_forged() -> None:
    now = [1_600_000_000.0]
    options = BintrayOptions(cdn_token_ttl=30)
    async with running(options=options, clock=lambda: now[0]) as h:
        url = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(url, allow_redirects=False) as resp:
            cdn = resp.headers["Location"]
        match = GDA.search(cdn)
        assert match is not None
        assert int(match.group(1)) == 1_600_000_030
        forged = re.sub(r"hmac=[0-9a-f]{4}", "hmac=0000", cdn)
        async with h.session.get(forged) as resp:
            assert resp.status == 403
        other_file = cdn.replace("core-lib-1.2.0.jar", "core-lib-1.2.0.pom")
        async with h.session.get(other_file) as resp:
            assert resp.status == 403
        now[0] += 29
        async with h.session.get(cdn) as resp:
            assert resp.status == 200
        now[0] += 2
        async with h.session.get(cdn) as resp:
            assert resp.status == 403


async def test_private_download_needs_credentials_and_bad_ones_get_non_json_401() -> None:
    async with running() as h:
        url = h.dl_url(f"/{ORG}/vault/{encoded_path(SECRET_PATH)}")
        async with h.session.get(url) as resp:
            assert resp.status == 401
        async with h.session.get(url, headers=basic("rita", "wrong")) as resp:
            assert resp.status == 401
            assert resp.content_type != "application/json"
            assert not (await resp.text()).lstrip().startswith("{")
        async with h.session.get(url, headers=auth("otto")) as resp:
            assert resp.status == 403
        async with h.session.get(url, headers=auth("mona")) as resp:
            assert resp.status == 403  # member without a team grant
        async with h.session.get(url, headers=auth("rita")) as resp:
            assert resp.status == 200
            data = await resp.read()
        async with h.session.get(url, headers=auth(ACCESS_KEY[0])) as resp:
            assert resp.status == 200  # entitled to the secret-tool path
        expired = basic(f"{EXPIRED_KEY[0]}@{ORG}", EXPIRED_KEY[1])
        async with h.session.get(url, headers=expired) as resp:
            assert resp.status == 401
        public = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(public, headers=basic("rita", "wrong")) as resp:
            assert resp.status == 401
        assert len(data) == SECRET_SIZE
        assert data == _bytes(h.emulator.org, SECRET_PATH)


async def test_unpublished_file_needs_include_unpublished_and_a_publisher() -> None:
    async with running() as h:
        url = f"/{ORG}/vault/{encoded_path(DRAFT_PATH)}"
        async with h.session.get(h.dl_url(url), headers=auth("adam")) as resp:
            assert resp.status == 404
        asked = h.dl_url(url + "?include_unpublished=1")
        async with h.session.get(asked, headers=auth("rita")) as resp:
            assert resp.status == 404  # a reader is not a publisher
        async with h.session.get(asked, headers=auth("adam")) as resp:
            assert resp.status == 200
            assert await resp.read() == _bytes(h.emulator.org, DRAFT_PATH)
        async with h.session.get(h.dl_url(f"/{ORG}/vault/no/such/file"), headers=auth("adam")) as r:
            assert r.status == 404


async def test_signed_url_works_anonymously_until_the_keypair_rotates() -> None:
    async with running() as h:
        sign = h.api_url(f"/signed_url/{ORG}/vault/{encoded_path(SECRET_PATH)}")
        async with h.session.post(sign, headers=auth("adam"), json={"valid_for_secs": 600}) as resp:
            assert resp.status == 200
            signed = (await resp.json())["url"]
        assert signed.startswith(f"{h.emulator.download_base_url}/{ORG}/vault/secret-tool/")
        assert re.search(r"\?expiry=\d+&id=[^&]+&signature=[^&]+$", signed)
        async with h.session.get(signed) as resp:
            assert resp.status == 200
            assert len(await resp.read()) == SECRET_SIZE
        async with h.session.post(
            h.api_url(f"/subjects/{ORG}/keypair"), headers=auth("pat")
        ) as resp:
            assert resp.status == 403
        async with h.session.post(
            h.api_url(f"/subjects/{ORG}/keypair"), headers=auth("adam")
        ) as resp:
            assert resp.status == 201
            assert await resp.json() == {"message": "success"}
        async with h.session.get(signed) as resp:
            assert resp.status == 403


async def test_signed_url_rules() -> None:
    now = [1_600_000_000.0]
    async with running(clock=lambda: now[0]) as h:
        path = encoded_path(SECRET_PATH)
        async with h.session.post(h.api_url(f"/signed_url/{ORG}/vault/{path}"), json={}) as resp:
            assert resp.status == 401
        async with h.session.post(
            h.api_url(f"/signed_url/{ORG}/vault/{path}"), headers=auth("rita"), json={}
        ) as resp:
            assert resp.status == 403  # readers cannot sign
        async with h.session.post(
            h.api_url(f"/signed_url/{ORG}/free/freebie.txt"), headers=auth("adam"), json={}
        ) as resp:
            assert resp.status == 403
            assert await resp.json() == {"message": f"Repository '/{ORG}/free' must be premium"}
        expiry = int(now[0] * 1000) + 5000
        async with h.session.post(
            h.api_url(f"/signed_url/{ORG}/vault/{path}"),
            headers=auth("adam"),
            json={"expiry": expiry},
        ) as resp:
            signed = (await resp.json())["url"]
        assert f"expiry={expiry}" in signed
        tampered = signed.replace(f"expiry={expiry}", f"expiry={expiry + 1000}")
        async with h.session.get(tampered) as resp:
            assert resp.status == 403
        async with h.session.get(signed, allow_redirects=False) as resp:
            assert resp.status == 302
        now[0] += 6
        async with h.session.get(signed, allow_redirects=False) as resp:
            assert resp.status == 403


async def test_folder_urls_give_html_indexes_with_working_links() -> None:
    async with running() as h:
        async with h.session.get(h.dl_url(f"/{ORG}/")) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            root = await resp.text()
        assert 'href="releases/"' in root
        assert "vault" not in root
        async with h.session.get(h.dl_url(f"/{ORG}/releases/")) as resp:
            top = await resp.text()
        assert 'href="com/"' in top
        assert 'href="dir%20with%20space/"' in top
        async with h.session.get(h.dl_url(f"/{ORG}/releases/dir%20with%20space/")) as resp:
            inner = await resp.text()
        href = re.search(r'href="([^"]+)"', inner)
        assert href is not None
        assert ":" not in href.group(1)  # a bare colon would read as a URL scheme
        async with h.session.get(
            h.dl_url(f"/{ORG}/releases/dir%20with%20space/{href.group(1)}")
        ) as r:
            assert r.status == 200
            assert await r.read() == _bytes(h.emulator.org, AWK_PATH)
        async with h.session.get(h.dl_url(f"/{ORG}/releases/nothing/")) as resp:
            assert resp.status == 404
        async with h.session.get(h.dl_url(f"/{ORG}/vault/")) as resp:
            assert resp.status == 401
        async with h.session.get(
            h.dl_url(f"/{ORG}/vault/secret-tool/1.0/"), headers=auth("rita")
        ) as r:
            listing = await r.text()
        assert "secret-tool-1.0.tar.gz" in listing
        assert "draft" not in listing


async def test_awkward_path_with_literal_plus_downloads() -> None:
    async with running() as h:
        expected = _bytes(h.emulator.org, AWK_PATH)
        encoded = encoded_path(AWK_PATH)
        for variant in (encoded, encoded.replace("%2B", "+")):
            async with h.session.get(h.dl_url(f"/{ORG}/releases/{variant}")) as resp:
                assert resp.status == 200, variant
                assert await resp.read() == expected


async def test_without_redirects_downloads_are_direct_and_whole() -> None:
    options = BintrayOptions(redirect_downloads=False)
    async with running(options=options) as h:
        url = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(url, allow_redirects=False, headers={"Range": "bytes=0-9"}) as r:
            assert r.status == 200
            assert await r.read() == _bytes(h.emulator.org, JAR_PATH)
        async with h.session.head(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == "48213"


async def test_redirect_private_false_serves_private_files_directly() -> None:
    async with running(options=BintrayOptions(redirect_private=False)) as h:
        private = h.dl_url(f"/{ORG}/vault/{encoded_path(SECRET_PATH)}")
        public = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        async with h.session.get(private, headers=auth("rita"), allow_redirects=False) as resp:
            assert resp.status == 200
            await resp.read()
        async with h.session.get(public, allow_redirects=False) as resp:
            assert resp.status == 302


async def test_large_file_streams_intact_and_is_logged() -> None:
    org = build_org()
    size = 40 * 1024 * 1024 + 3
    org.repos["releases"].packages["core-lib"].versions[1].files.append(
        BintrayFile(
            path="big/blob.bin",
            repo="releases",
            package="core-lib",
            version="1.2.0",
            owner=ORG,
            size=size,
            content_key="big",
        )
    )
    async with running(org) as h:
        digest = hashlib.sha256()
        received = 0
        async with h.session.get(h.dl_url(f"/{ORG}/releases/big/blob.bin")) as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(1 << 20):
                digest.update(chunk)
                received += len(chunk)
        listing = await h.get_json(f"/packages/{ORG}/releases/core-lib/versions/1.2.0/files")
        log = list(h.emulator.request_log)
    entry = next(f for f in listing if f["path"] == "big/blob.bin")
    assert received == size == entry["size"]
    assert digest.hexdigest() == entry["sha256"]
    cdn = [r for r in log if r.path.startswith("/_cdn/")]
    assert len(cdn) == 1
    assert (cdn[0].method, cdn[0].status, cdn[0].bytes_out) == ("GET", 200, size)
    first = next(r for r in log if r.path == f"/{ORG}/releases/big/blob.bin")
    assert first.status == 302
