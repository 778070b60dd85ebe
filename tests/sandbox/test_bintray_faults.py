"""The Bintray emulator under injected faults: errors in its own style, corrupted bodies."""

from __future__ import annotations

import hashlib

import pytest
from bintray_org import JAR_PATH, ORG, encoded_path, running

from transfer.sandbox.faults import FaultInjector

pytestmark = pytest.mark.anyio


async def test_injected_api_errors_are_json_with_rate_limit_headers() -> None:
    async with running(faults=FaultInjector("api:503=1x1")) as h:
        async with h.session.get(h.api_url(f"/repos/{ORG}")) as resp:
            assert resp.status == 503
            assert "message" in await resp.json()
            assert resp.headers["X-RateLimit-Limit"] == "1440"
        async with h.session.get(h.api_url(f"/repos/{ORG}")) as resp:
            assert resp.status == 200
        assert [r.status for r in h.emulator.request_log] == [503, 200]


async def test_download_bodies_go_through_the_fault_injector() -> None:
    faults = FaultInjector("download:corrupt=1x1")
    async with running(faults=faults) as h:
        url = h.dl_url(f"/{ORG}/releases/{encoded_path(JAR_PATH)}")
        digests = []
        for _ in range(2):
            async with h.session.get(url) as resp:
                assert resp.status == 200
                digests.append(hashlib.sha1(await resp.read()).hexdigest())
        listing = await h.get_json(f"/packages/{ORG}/releases/core-lib/versions/1.2.0/files")
    expected = next(f["sha1"] for f in listing if f["path"] == JAR_PATH)
    assert faults.count("corrupt") == 1
    assert digests[0] != digests[1]
    assert expected in digests
