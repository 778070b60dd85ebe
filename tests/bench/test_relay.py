"""The benchmarks' latency relay: bytes pass unchanged both ways, each direction is delayed by
its one-way delay, a rate cap paces the bytes, and the relay runs in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from benchmarks.relay import LinkShape, RelayProcess, run_relay

pytestmark = pytest.mark.anyio


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body, headers={"X-Sha1": hashlib.sha1(body).hexdigest()})


@contextlib.asynccontextmanager
async def _echo_server() -> AsyncIterator[int]:
    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/echo", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _relay(upstream: int, shape: LinkShape) -> AsyncIterator[int]:
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_relay(("127.0.0.1", upstream), shape, ready=ready))
    try:
        yield await ready
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_every_exchange_pays_the_round_trip_and_bytes_arrive_unchanged() -> None:
    payload = os.urandom(768 * 1024 + 17)
    async with (
        _echo_server() as server_port,
        _relay(server_port, LinkShape(0.04, 0.06)) as relay_port,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        for _ in range(3):
            async with session.post(f"http://127.0.0.1:{relay_port}/echo", data=payload) as answer:
                assert answer.status == 200
                body = await answer.read()
                assert body == payload
                assert answer.headers["X-Sha1"] == hashlib.sha1(payload).hexdigest()
        elapsed = time.monotonic() - started
    # three request/response exchanges over one kept-alive connection: at least 3 × (40 + 60) ms
    assert elapsed >= 0.3


async def test_the_rate_cap_paces_each_direction() -> None:
    payload = os.urandom(1024 * 1024)
    async with (
        _echo_server() as server_port,
        _relay(server_port, LinkShape(rate=4 * 1024 * 1024)) as relay_port,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        async with session.post(f"http://127.0.0.1:{relay_port}/echo", data=payload) as answer:
            assert await answer.read() == payload
        elapsed = time.monotonic() - started
    # 1 MiB up and 1 MiB down at 4 MiB/s each: the second direction alone needs 0.25 s less a chunk
    assert elapsed >= 0.4


async def test_the_relay_process_serves_and_reports_its_own_cpu() -> None:
    payload = os.urandom(256 * 1024)
    async with _echo_server() as server_port:
        with RelayProcess(server_port, LinkShape.rtt(20)) as relay:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://127.0.0.1:{relay.port}/echo", data=payload) as answer,
            ):
                assert await answer.read() == payload
            assert relay.cpu_seconds() > 0.0
