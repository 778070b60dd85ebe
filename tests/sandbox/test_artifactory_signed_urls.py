"""Fidelity of signed URLs (reference §8)."""

from __future__ import annotations

import aiohttp
import pytest
from artifactory_helpers import Art, running
from yarl import URL

pytestmark = pytest.mark.anyio


class Clock:
    """A settable clock so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def _anonymous_get(a: Art, url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as fresh, fresh.get(URL(url, encoded=True)) as resp:
        return resp.status, await resp.read()


async def test_signed_url_gives_access_without_credentials_until_expiry() -> None:
    clock = Clock()
    async with running(clock=clock) as a:
        await a.repo("r")
        await a.deploy("r/dir/file name.bin", b"secret bytes")
        resp, url = await a.call(
            "POST",
            "api/signed/url",
            json={"repo_path": "/r/dir/file name.bin", "valid_for_secs": 60},
        )
        assert resp.status == 200
        assert isinstance(url, str)
        assert url.startswith(a.art("r/dir/file%20name.bin?sig="))
        assert await _anonymous_get(a, url) == (200, b"secret bytes")
        status, _ = await _anonymous_get(a, a.art("r/dir/file%20name.bin"))
        assert status == 401
        # a signature is bound to its path
        other = url.replace("file%20name.bin", "other.bin")
        assert (await _anonymous_get(a, other))[0] == 401
        clock.now += 61
        assert (await _anonymous_get(a, url))[0] == 401


async def test_expiry_in_epoch_millis_and_validation() -> None:
    clock = Clock()
    async with running(clock=clock) as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        expiry = int((clock.now + 30) * 1000)
        resp, url = await a.call(
            "POST", "api/signed/url", json={"repo_path": "r/f.bin", "expiry": expiry}
        )
        assert resp.status == 200
        assert (await _anonymous_get(a, url))[0] == 200
        clock.now += 31
        assert (await _anonymous_get(a, url))[0] == 401
        for bad in (
            {},
            {"repo_path": "r/f.bin", "valid_for_secs": -1},
            {"repo_path": "r/f.bin", "valid_for_secs": 400 * 86400},
        ):
            resp, _ = await a.call("POST", "api/signed/url", json=bad)
            assert resp.status == 400
        resp, _ = await a.call("POST", "api/signed/url", json={"repo_path": "r/missing.bin"})
        assert resp.status == 404


async def test_key_rotation_invalidates_older_urls() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        _, url = await a.call("POST", "api/signed/url", json={"repo_path": "r/f.bin"})
        assert (await _anonymous_get(a, url))[0] == 200
        resp, _ = await a.call("POST", "api/signed/url/key")
        assert resp.status == 201
        assert (await _anonymous_get(a, url))[0] == 401
        _, fresh = await a.call("POST", "api/signed/url", json={"repo_path": "r/f.bin"})
        assert (await _anonymous_get(a, fresh))[0] == 200


async def test_creating_needs_admin_or_manage() -> None:
    async with running() as a:
        await a.repo("r")
        await a.deploy("r/f.bin", b"x")
        kim = await a.user("kim")
        await a.grant("kim", ["r"], users={"kim": ["read", "write"]})
        resp, _ = await a.call("POST", "api/signed/url", auth=kim, json={"repo_path": "r/f.bin"})
        assert resp.status == 403
        resp, _ = await a.call("POST", "api/signed/url/key", auth=kim)
        assert resp.status == 403
        await a.grant("kim", ["r"], users={"kim": ["manage"]})
        resp, url = await a.call("POST", "api/signed/url", auth=kim, json={"repo_path": "r/f.bin"})
        assert resp.status == 200
        assert (await _anonymous_get(a, url))[0] == 200
