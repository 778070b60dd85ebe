"""Seeded fault injection: the spec grammar, the decisions, and what a real client sees."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transfer.sandbox.faults import (
    NO_FAULT,
    PRESETS,
    FaultDecision,
    FaultInjector,
    FaultRule,
    parse_spec,
)

pytestmark = pytest.mark.anyio

BODY = bytes(range(256)) * 4096  # 1 MiB
CHUNK = 64 * 1024


def _family(request: web.Request) -> str:
    if request.path.startswith("/dl"):
        return "download"
    if request.path.startswith("/up"):
        return "deploy"
    return "api"


def _artifactory_error(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"status": status, "message": message}]}, status=status)


class Harness:
    """A tiny emulator whose handlers go through the injector the way the real ones do."""

    def __init__(self, injector: FaultInjector, *, styled: bool = False) -> None:
        self.injector = injector
        self.uploads: list[tuple[int, str]] = []
        app = web.Application(
            middlewares=[
                injector.middleware(_family, error_body=_artifactory_error if styled else None)
            ]
        )
        app.on_shutdown.append(injector.on_shutdown)
        app.router.add_get("/dl/file", self.download)
        app.router.add_get("/dl/chunked", self.download_chunked)
        app.router.add_put("/up/file", self.upload)
        app.router.add_get("/api/thing", self.api)
        self.app = app

    async def download(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(BODY)
        view = memoryview(BODY)
        chunks = (view[i : i + CHUNK] for i in range(0, len(BODY), CHUNK))
        return await self.injector.stream_response(request, response, chunks)

    async def download_chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        view = memoryview(BODY)
        chunks = (view[i : i + CHUNK] for i in range(0, len(BODY), CHUNK))
        return await self.injector.stream_response(request, response, chunks)

    async def upload(self, request: web.Request) -> web.Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in self.injector.read_request_body(request):
            digest.update(chunk)
            size += len(chunk)
        self.uploads.append((size, digest.hexdigest()))
        return web.json_response({"size": size, "sha256": digest.hexdigest()}, status=201)

    async def api(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})


@asynccontextmanager
async def serving(
    spec: str | FaultInjector, *, seed: int = 7, styled: bool = False
) -> AsyncIterator[tuple[Harness, aiohttp.ClientSession, str]]:
    injector = spec if isinstance(spec, FaultInjector) else FaultInjector(spec, seed=seed)
    harness = Harness(injector, styled=styled)
    server = TestServer(harness.app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield harness, session, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _fetch(
    session: aiohttp.ClientSession, url: str, *, into: bytearray | None = None
) -> bytes:
    received = bytearray() if into is None else into
    async with session.get(url) as response:
        assert response.status == 200
        async for chunk in response.content.iter_any():
            received += chunk
    return bytes(received)


# -- the spec ----------------------------------------------------------------------------


def test_example_spec_parses_into_rules() -> None:
    rules = parse_spec(
        "download:reset_mid_body=0.05,corrupt=0.02,truncate=0.02;"
        "deploy:503=0.1,429=0.05@2x3;*:latency=0.01-0.05;api:bandwidth=2M@0.5"
    )
    assert rules == [
        FaultRule("download", "reset_mid_body", 0.05),
        FaultRule("download", "corrupt", 0.02),
        FaultRule("download", "truncate", 0.02),
        FaultRule("deploy", "503", 0.1),
        FaultRule("deploy", "429", 0.05, value=2, limit=3),
        FaultRule("*", "latency", 1.0, value=0.01, value_max=0.05),
        FaultRule("api", "bandwidth", 0.5, value=2 * 1024 * 1024),
    ]
    # str(rule) is spec grammar again
    assert parse_spec(";".join(str(rule) for rule in rules)) == rules


def test_presets_parse_and_combine() -> None:
    for name in PRESETS:
        parse_spec(name)
    assert parse_spec("none") == []
    mix = {rule.kind for rule in parse_spec("mix")}
    assert {"5xx", "429", "reset_mid_body", "truncate", "corrupt"} <= mix
    combined = parse_spec("mix;deploy:503=0.5")
    assert combined[-1] == FaultRule("deploy", "503", 0.5)


@pytest.mark.parametrize(
    ("spec", "piece"),
    [
        ("download:bogus=0.1", "bogus=0.1"),
        ("download:503=1.5", "503=1.5"),
        ("download:404=0.5", "404=0.5"),
        ("download:503", "503"),
        ("download:truncate=0.1@3", "truncate=0.1@3"),
        ("download:bandwidth=fast", "bandwidth=fast"),
        ("download:latency=0.5-0.1", "latency=0.5-0.1"),
        ("download:corrupt=lots", "corrupt=lots"),
        ("download:", "download:"),
        ("dl/x:503=0.1", "dl/x:503=0.1"),
        ("chaos", "chaos"),
    ],
)
def test_a_bad_piece_is_named(spec: str, piece: str) -> None:
    with pytest.raises(ValueError, match="bad fault spec piece") as caught:
        FaultInjector(spec)
    assert repr(piece) in str(caught.value)


# -- decisions ---------------------------------------------------------------------------


def test_decisions_are_reproducible_per_seed_and_family() -> None:
    spec = "download:5xx=0.2,reset_mid_body=0.1,corrupt=0.1;*:latency=0.01-0.05@0.3"

    def run(seed: int) -> list[FaultDecision]:
        injector = FaultInjector(spec, seed=seed)
        # interleaving another family must not shift the download stream
        out = []
        for i in range(300):
            if i % 3 == 0:
                injector.decide("api")
            out.append(injector.decide("download"))
        return out

    first, again, other = run(1), run(1), run(2)
    assert first == again
    assert first != other
    statuses = [d.status for d in first if d.status is not None]
    assert 30 <= len(statuses) <= 95  # p = 0.2 over 300
    assert set(statuses) <= {500, 502, 503, 504}
    latencies = [d.latency for d in first if d.latency]
    assert latencies
    assert all(0.01 <= x <= 0.05 for x in latencies)
    assert all(d.family == "download" for d in first if d is not NO_FAULT)


def test_specific_family_overrides_star_and_services_scope() -> None:
    root = FaultInjector("*:latency=0.5;download:latency=0.1;bintray.download:truncate=1")
    assert root.decide("api").latency == 0.5
    assert root.decide("download").latency == 0.1
    assert not root.decide("download").truncate  # service-qualified rules need a scoped view
    bintray, artifactory = root.scoped("bintray"), root.scoped("artifactory")
    assert bintray.decide("download").truncate
    assert not artifactory.decide("download").truncate
    root.disable()
    assert bintray.decide("download") is NO_FAULT  # the switch is shared
    root.enable()
    with bintray.paused():
        assert root.decide("api") is NO_FAULT
    assert root.decide("api").latency == 0.5


def test_answer_faults_have_a_priority() -> None:
    injector = FaultInjector("api:503=1,429=1@3,reset=1")
    decision = injector.decide("api")
    assert decision.reset_before_body
    assert decision.status is None
    assert decision.answer == "reset"


# -- what a real client sees -------------------------------------------------------------


async def test_no_rules_cost_nothing_and_change_nothing() -> None:
    def exploding(request: web.Request) -> str:
        raise AssertionError("family_of must not run when there are no rules")

    injector = FaultInjector("")
    app = web.Application(middlewares=[injector.middleware(exploding)])
    harness = Harness(injector)
    app.router.add_get("/dl/file", harness.download)
    server = TestServer(app)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            assert await _fetch(session, str(server.make_url("/dl/file"))) == BODY
    finally:
        await server.close()


async def test_status_faults_use_the_error_style_and_retry_after() -> None:
    async with serving("api:503=1x1,429=1@2x1", styled=True) as (harness, session, url):
        async with session.get(f"{url}/api/thing") as response:
            # 429 outranks status codes
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"
            body = await response.json()
            assert body["errors"][0]["status"] == 429
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 503
            assert "Retry-After" not in response.headers
            assert (await response.json())["errors"][0]["status"] == 503
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 200
        assert harness.injector.injected[("api", "429")] == 1
        assert harness.injector.injected[("api", "503")] == 1


async def test_plain_429_has_no_retry_after_and_502_is_proxy_html() -> None:
    async with serving("api:429=1x1,502=1") as (_, session, url):
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 429
            assert "Retry-After" not in response.headers
            assert "message" in await response.json()
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 502
            assert response.content_type == "text/html"
            assert "502 Bad Gateway" in await response.text()


async def test_reset_before_the_response_is_a_connection_error() -> None:
    # aiohttp silently retries an idempotent request once after a reset: two resets to see one
    async with serving("download:reset=1x3") as (harness, session, url):
        with pytest.raises(aiohttp.ClientConnectionError):
            await _fetch(session, f"{url}/dl/file")
        assert harness.injector.count("reset") == 2
        assert await _fetch(session, f"{url}/dl/file") == BODY  # retried past the third
        assert harness.injector.count("reset") == 3


@pytest.mark.parametrize("path", ["/dl/file", "/dl/chunked"])
@pytest.mark.parametrize("kind", ["reset_mid_body", "truncate"])
async def test_broken_bodies_are_payload_errors(kind: str, path: str) -> None:
    async with serving(f"download:{kind}=1") as (harness, session, url):
        received = bytearray()
        with pytest.raises(aiohttp.ClientPayloadError):
            await _fetch(session, url + path, into=received)
        assert len(received) < len(BODY)
        assert BODY.startswith(received)
        assert harness.injector.injected[("download", kind)] == 1


async def test_corruption_flips_one_byte_at_a_seeded_place() -> None:
    places = []
    for _ in range(2):
        async with serving("download:corrupt=1", seed=3) as (harness, session, url):
            async with session.get(f"{url}/dl/file") as response:
                assert response.content_length == len(BODY)
                data = await response.read()
            assert len(data) == len(BODY)
            diffs = [i for i, (a, b) in enumerate(zip(data, BODY, strict=True)) if a != b]
            assert len(diffs) == 1
            places.append(diffs[0])
            assert harness.injector.count("corrupt", "download") == 1
    assert places[0] == places[1]


async def test_caps_and_the_runtime_switch() -> None:
    async with serving("download:truncate=1x2;api:503=1") as (harness, session, url):
        for _ in range(2):
            with pytest.raises(aiohttp.ClientPayloadError):
                async with session.get(f"{url}/dl/file") as response:
                    await response.read()
        async with session.get(f"{url}/dl/file") as response:
            assert await response.read() == BODY
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 503
        harness.injector.disable()  # phase B: the same server, no faults
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 200
        assert harness.injector.injected[("download", "truncate")] == 2


async def test_latency_and_bandwidth_slow_things_down() -> None:
    async with serving("api:latency=0.2;download:bandwidth=2M") as (harness, session, url):
        start = time.monotonic()
        async with session.get(f"{url}/api/thing") as response:
            assert response.status == 200
        assert time.monotonic() - start >= 0.2
        start = time.monotonic()
        async with session.get(f"{url}/dl/file") as response:
            assert await response.read() == BODY
        assert time.monotonic() - start >= 0.45  # 1 MiB at 2 MiB/s
        assert harness.injector.count("latency") == 1


async def test_hang_outlasts_the_client_and_not_the_server() -> None:
    async with serving("api:hang=1@30") as (harness, session, url):
        timeout = aiohttp.ClientTimeout(total=0.3)
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(f"{url}/api/thing", timeout=timeout) as response:
                await response.read()
        assert harness.injector.count("hang") == 1
        start = time.monotonic()
    # leaving `serving` stopped the server; on_shutdown released the hanging handler
    assert time.monotonic() - start < 5


async def test_redirect_loop() -> None:
    async with serving("download:redirect_loop=1") as (_, session, url):
        with pytest.raises(aiohttp.TooManyRedirects):
            async with session.get(f"{url}/dl/file") as response:
                await response.read()
    async with serving("download:redirect_loop=1@3x1") as (harness, session, url):
        async with session.get(f"{url}/dl/file") as response:
            assert await response.read() == BODY
            assert len(response.history) == 3
        assert harness.injector.count("redirect_loop") == 1


async def test_upload_reset_mid_body_stores_nothing() -> None:
    # x2: aiohttp resends an idempotent PUT once after a reset
    async with serving("deploy:reset_mid_body=1x2") as (harness, session, url):
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.put(f"{url}/up/file", data=BODY) as response:
                await response.read()
        assert harness.uploads == []
        async with session.put(f"{url}/up/file", data=BODY) as response:
            assert response.status == 201
        assert harness.uploads == [(len(BODY), hashlib.sha256(BODY).hexdigest())]
        assert harness.injector.injected[("deploy", "reset_mid_body")] == 2


async def test_upload_corruption_reaches_the_server() -> None:
    async with serving("deploy:corrupt=1") as (_, session, url):
        async with session.put(f"{url}/up/file", data=BODY) as response:
            body = await response.json()
        assert body["size"] == len(BODY)
        assert body["sha256"] != hashlib.sha256(BODY).hexdigest()
