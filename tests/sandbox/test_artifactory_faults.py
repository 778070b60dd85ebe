"""The Artifactory emulator under injected faults: route families, error style, bodies."""

from __future__ import annotations

import hashlib
import os

import aiohttp
import pytest
from artifactory_helpers import ADMIN, digests, running

from transfer.sandbox.faults import FaultInjector

pytestmark = pytest.mark.anyio


async def test_injected_deploy_errors_use_the_standard_error_body() -> None:
    async with running(faults=FaultInjector("deploy:503=1x1")) as a:
        await a.repo("r")
        resp, body = await a.call("PUT", "r/f.bin", data=b"x")
        assert resp.status == 503
        assert body["errors"][0]["status"] == 503
        resp, _ = await a.call("PUT", "r/f.bin", data=b"x")
        assert resp.status == 201
        assert [r.status for r in a.emulator.request_log if r.method == "PUT"] == [200, 503, 201]


async def test_route_families() -> None:
    faults = FaultInjector("storage:500=1x1;download:500=1x1;api:500=1x1")
    async with running(faults=faults) as a:
        resp, _ = await a.call("PUT", "api/repositories/r", json={"rclass": "local"})
        assert resp.status == 500  # api
        await a.repo("r")
        assert (await a.deploy("r/f.bin", b"x")).status == 201  # deploy: no rule
        resp, _ = await a.call("GET", "api/storage/r/f.bin")
        assert resp.status == 500
        resp, _ = await a.call("PATCH", "api/metadata/r/f.bin", json={"props": {"a": "b"}})
        assert resp.status == 200  # storage rule used up
        resp, _ = await a.call("GET", "r/f.bin")
        assert resp.status == 500
        assert faults.count() == 3


async def test_corrupted_upload_with_checksums_is_409_and_not_stored() -> None:
    data = os.urandom(100_000)
    {"X-Checksum-Sha256": digests(data)["sha256"]}
    async with running(faults=FaultInjector("deploy:corrupt=1x1")) as a:
        await a.repo("r")
        resp = await a.deploy(
            "r/f.bin", data, headers={"X-Checksum-Sha256": digests(data)["sha256"]}
        )
        assert resp.status == 409
        assert a.emulator.item("r", "f.bin") is None
        resp = await a.deploy(
            "r/f.bin", data, headers={"X-Checksum-Sha256": digests(data)["sha256"]}
        )
        assert resp.status == 201


async def test_upload_reset_mid_body_stores_nothing() -> None:
    data = os.urandom(600_000)
    async with running(faults=FaultInjector("deploy:reset_mid_body=1x2")) as a:
        await a.repo("r")
        # x2: aiohttp silently retries an idempotent request once after a disconnect
        with pytest.raises(aiohttp.ClientError):
            await a.deploy("r/f.bin", data)
        assert a.emulator.item("r", "f.bin") is None
        assert a.emulator.blob_count() == 0
        cut = a.emulator.bytes_received  # what arrived of the two cut bodies
        assert 0 < cut < 2 * len(data)
        assert (await a.deploy("r/f.bin", data)).status == 201
        assert a.emulator.bytes_received == cut + len(data)
        assert list((a.emulator.storage_dir / "tmp").iterdir()) == []


async def test_corrupted_download_disagrees_with_its_checksum_header() -> None:
    data = os.urandom(50_000)
    async with running(faults=FaultInjector("download:corrupt=1x1")) as a:
        await a.repo("r")
        await a.deploy("r/f.bin", data)
        seen = []
        for _ in range(2):
            async with a.session.get(a.art("r/f.bin"), headers=ADMIN) as resp:
                body = await resp.read()
                seen.append(hashlib.sha256(body).hexdigest() == resp.headers["X-Checksum-Sha256"])
        assert seen == [False, True]
