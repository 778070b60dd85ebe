"""HttpClient against a real aiohttp server on 127.0.0.1: retries, mapping, redaction, streams."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import random
import socket
import ssl
import subprocess
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transfer.errors import (
    AuthError,
    ConflictError,
    FileTooLarge,
    NotFoundError,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RemoteError,
    TlsVerificationError,
    TokenExpired,
    TransferError,
    TransientError,
    UnreachableError,
    UnusableService,
)
from transfer.http import (
    AdaptiveLimiter,
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HttpClient,
    RetryPolicy,
    Timeouts,
    error_for_status,
    error_message_from_body,
    parse_retry_after,
)
from transfer.http.client import JSON_BODY_LIMIT, SMALLEST_PIECE, environment_routes_http
from transfer.redaction import redact_text, redact_url

pytestmark = pytest.mark.anyio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

USER = "alice"
PASSWORD = "s3cr3t-Pa55word"
TOKEN = "eyJ2ZXIiOiIyIn0.tok3n-VALUE"
SECRETS = (
    PASSWORD,
    TOKEN,
    base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "SIGNATURE-VALUE",
)


class Secret:
    """What settings.Secret looks like to the client."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"


def assert_clean(exc: BaseException) -> None:
    """No credential in the message or repr of the error, nor of any error chained to it."""
    current: BaseException | None = exc
    while current is not None:
        printed = "".join(traceback.format_exception_only(current)) + repr(current)
        for secret in SECRETS:
            assert secret not in printed
        cause = current.__cause__
        current = cause if cause or current.__suppress_context__ else current.__context__


class Recorder:
    """A fake sleep that records the delays it was asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@asynccontextmanager
async def serve(
    routes: dict[str, Handler], *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[TestServer]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    server = TestServer(app)
    await server.start_server(ssl=ssl_context)
    try:
        yield server
    finally:
        await server.close()


def make_client(server: TestServer, **kwargs: Any) -> HttpClient:
    kwargs.setdefault("auth", BasicAuth(USER, Secret(PASSWORD)))
    kwargs.setdefault("sleep", Recorder())
    kwargs.setdefault("rng", random.Random(1))
    kwargs.setdefault("timeouts", Timeouts(connect=2.0, sock_read=2.0, total=5.0))
    return HttpClient(str(server.make_url("/")), **kwargs)


def counted(*responses: Callable[[], web.StreamResponse]) -> tuple[Handler, list[int]]:
    """A handler answering with ``responses`` in turn (the last one repeats), and its hit count."""
    hits = [0]

    async def handler(request: web.Request) -> web.StreamResponse:
        hits[0] += 1
        return responses[min(hits[0], len(responses)) - 1]()

    return handler, hits


def ok_json() -> web.Response:
    return web.json_response({"ok": True})


async def test_retries_a_503_then_succeeds() -> None:
    handler, hits = counted(
        lambda: web.json_response({"message": "busy"}, status=503),
        lambda: web.Response(status=503, text="<html><title>busy</title></html>"),
        ok_json,
    )
    calls: list[tuple[int, float, TransferError]] = []
    async with serve({"/api/x": handler}) as server:
        sleep = Recorder()
        async with make_client(
            server, sleep=sleep, on_retry=lambda a, d, e: calls.append((a, d, e))
        ) as client:
            assert await client.request_json("GET", "api/x") == {"ok": True}
            assert hits[0] == 3
            assert client.stats.retries == 2
            assert client.stats.requests == 3
            assert client.stats.throttled == 2  # 503 counts as "slow down"
    assert len(sleep.delays) == 2
    assert sleep.delays[0] <= 0.5
    assert sleep.delays[1] <= 1.0
    assert [(a, d) for a, d, _ in calls] == [(1, sleep.delays[0]), (2, sleep.delays[1])]
    assert all(isinstance(e, TransientError) and e.status == 503 for _, _, e in calls)


async def test_gives_up_after_the_last_attempt() -> None:
    handler, hits = counted(lambda: web.Response(status=502, text="bad gateway"))
    async with serve({"/x": handler}) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep, retry_policy=RetryPolicy(max_attempts=3)) as c:
            with pytest.raises(TransientError) as info:
                await c.request("GET", "/x")
            assert c.stats.failures == 1
    assert hits[0] == 3
    assert len(sleep.delays) == 2
    assert info.value.status == 502
    assert "bad gateway" in str(info.value)
    assert_clean(info.value)


async def test_honours_retry_after_seconds_and_dates() -> None:
    handler, hits = counted(
        lambda: web.Response(status=429, headers={"Retry-After": "7"}),
        lambda: web.Response(status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        ok_json,
    )
    async with serve({"/x": handler}) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep) as client:
            await client.request_json("GET", "x")
    assert hits[0] == 3
    assert sleep.delays[0] == 7.0
    # A date in the past means "now": plain backoff applies.
    assert 0.0 <= sleep.delays[1] <= 1.0


async def test_retry_false_does_not_retry() -> None:
    handler, hits = counted(lambda: web.Response(status=503))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        with pytest.raises(TransientError):
            await client.request("GET", "x", retry=False)
    assert hits[0] == 1


async def test_never_retries_a_401_and_keeps_credentials_out() -> None:
    async def handler(request: web.Request) -> web.Response:
        hits[0] += 1
        # A server echoing the credential back must not get it into our message.
        echoed = request.headers.get("Authorization", "")
        return web.json_response({"message": f"Bad credentials: {echoed}"}, status=401)

    hits = [0]
    async with serve({"/x": handler}) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep) as client:
            with pytest.raises(AuthError) as info:
                await client.request_json("GET", "x")
    assert hits[0] == 1
    assert sleep.delays == []
    err = info.value
    assert err.status == 401
    assert err.exit_code == 3
    assert "Bad credentials" in str(err)
    assert "credentials were refused" in str(err)
    assert_clean(err)


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "text"),
    [
        (
            404,
            {"errors": [{"status": 404, "message": "Unable to find item"}]},
            {},
            NotFoundError,
            "Unable to find item",
        ),
        (403, {"message": "forbidden"}, {}, PermissionDenied, "forbidden"),
        (
            403,
            {"message": "You have exceeded your API call limit"},
            {"X-RateLimit-Limit": "1440", "X-RateLimit-Remaining": "0"},
            RateLimited,
            "rate limit",
        ),
        (
            409,
            {"errors": [{"status": 409, "message": "Checksum policy"}]},
            {},
            ConflictError,
            "Checksum policy",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "bad refresh"},
            {},
            RemoteError,
            "invalid_grant: bad refresh",
        ),
    ],
)
async def test_maps_statuses_with_the_servers_message(
    status: int, body: Any, headers: dict[str, str], cls: type[RemoteError], text: str
) -> None:
    handler, _ = counted(lambda: web.json_response(body, status=status, headers=headers))
    policy = RetryPolicy(max_attempts=1)
    async with serve({"/repo/a.jar": handler}) as server:
        url = str(server.make_url("/repo/a.jar"))
        async with make_client(server, retry_policy=policy) as client:
            with pytest.raises(RemoteError) as info:
                await client.request("GET", "repo/a.jar")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert text in str(err)
    assert f"GET {url}" in str(err)
    assert err.url == url
    assert_clean(err)


async def test_html_error_bodies_give_their_title() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    handler, _ = counted(lambda: web.Response(status=502, text=page, content_type="text/html"))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        with pytest.raises(TransientError) as info:
            await client.request("GET", "x", retry=False)
    assert str(info.value).endswith(": 502 Bad Gateway")
    assert "<" not in str(info.value)


async def test_expected_statuses_are_returned_not_raised() -> None:
    handler, _ = counted(lambda: web.Response(status=404, text="nope"))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        response = await client.request("HEAD", "x", expected=(200, 404))
    assert response.status == 404


async def test_truncated_json_is_a_clear_final_error() -> None:
    handler, hits = counted(
        lambda: web.Response(
            body=b'{"files": [{"name": "a.jar", "si', content_type="application/json"
        )
    )
    async with serve({"/api/files": handler}) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep) as client:
            with pytest.raises(RemoteError) as info:
                await client.request_json("GET", "api/files?signature=SIGNATURE-VALUE")
    err = info.value
    assert not err.retryable
    assert hits[0] == 1
    assert sleep.delays == []
    assert "expected JSON" in str(err)
    assert '{"files": [{"name": "a.jar"' in str(err)
    assert "/api/files?signature=***" in str(err)
    assert_clean(err)


async def test_non_json_where_json_was_expected() -> None:
    handler, _ = counted(lambda: web.Response(text="<html>login page</html>"))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        with pytest.raises(RemoteError, match="login page"):
            await client.request_json("GET", "x")


async def test_204_gives_none() -> None:
    handler, _ = counted(lambda: web.Response(status=204))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        assert await client.request_json("DELETE", "x", expected=(204,)) is None


class PaddedJson:
    """A handler answering ``[]`` after white space: valid JSON of exactly ``size`` bytes, with a
    ``Content-Length`` (``declared``) or chunked, written piece by piece until the client hangs
    up; it counts its requests and the bytes it managed to write."""

    def __init__(self, size: int, *, declared: bool) -> None:
        self.size = size
        self.declared = declared
        self.hits = 0
        self.written = 0
        self.finished = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if self.declared:
            response.content_length = self.size
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        blank = b" " * 65536
        left = self.size - 2
        try:
            with contextlib.suppress(ConnectionResetError):
                while left > 0:
                    await response.write(blank[:left])
                    self.written += min(left, len(blank))
                    left -= min(left, len(blank))
                await response.write(b"[]")
        finally:
            self.finished.set()
        return response


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("over", [0, 1], ids=["at-the-limit", "one-byte-over"])
async def test_request_json_reads_at_most_max_body(declared: bool, over: int) -> None:
    limit = 1024 * 1024
    served = PaddedJson(limit + over, declared=declared)
    async with serve({"/api/list": served.handle}) as server, make_client(server) as client:
        path = "api/list?signature=SIGNATURE-VALUE"
        if not over:
            assert await client.request_json("GET", path, max_body=limit) == []
            return
        with pytest.raises(UnusableService) as info:
            await client.request_json("GET", path, max_body=limit)
        assert client.stats.failures == 1
    err = info.value
    assert not err.retryable
    assert served.hits == 1
    said = "declares 1,048,577 bytes" if declared else "sent 1,048,577 bytes and more"
    assert said in str(err)
    assert "more than the 1,048,576 bytes read for this call" in str(err)
    assert "/api/list?signature=***" in str(err)
    assert err.url.endswith("/api/list?signature=***")
    assert_clean(err)


async def test_request_json_stops_reading_an_endless_body_at_max_body() -> None:
    limit = 1024 * 1024
    served = PaddedJson(1024**4, declared=False)  # a TiB: without the cap, read until a timeout
    async with serve({"/x": served.handle}) as server, make_client(server) as client:
        with pytest.raises(UnusableService, match=r"sent 1,\d{3},\d{3} bytes and more"):
            await client.request_json("GET", "x", max_body=limit)
        with anyio.fail_after(10):
            await served.finished.wait()  # the hang-up ended the answer
    assert served.hits == 1
    assert served.written < 32 * limit  # what the socket buffers took, not the body


async def test_request_json_refuses_a_body_past_json_body_limit_by_default() -> None:
    served = PaddedJson(JSON_BODY_LIMIT + 1, declared=True)
    async with serve({"/x": served.handle}) as server, make_client(server) as client:
        with pytest.raises(UnusableService, match=r"declares 67,108,865 bytes, more than"):
            await client.request_json("GET", "x")
    assert served.hits == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_unreachable() -> None:
    port = free_port()
    sleep = Recorder()
    client = HttpClient(
        f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/artifactory",
        auth=BearerAuth(Secret(TOKEN)),
        sleep=sleep,
        retry_policy=RetryPolicy(max_attempts=2),
    )
    async with client:
        with pytest.raises(UnreachableError) as info:
            await client.request("GET", "api/system/ping")
    err = info.value
    assert err.exit_code == 3
    assert len(sleep.delays) == 1  # retryable, and retried
    assert f"cannot reach host 127.0.0.1:{port}" in str(err)
    assert err.url == f"http://127.0.0.1:{port}/artifactory/api/system/ping"
    assert_clean(err)


async def test_a_hung_server_times_out_as_transient() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    async with serve({"/x": hang}) as server:
        try:
            timeouts = Timeouts(connect=1.0, sock_read=0.2, total=5.0)
            async with make_client(server, timeouts=timeouts) as client:
                with pytest.raises(TransientError) as info:
                    await client.request("GET", "x?token=SIGNATURE-VALUE", retry=False)
        finally:
            release.set()
    assert "timed out" in str(info.value)
    assert_clean(info.value)


async def test_auth_headers_for_each_scheme() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "authorization": request.headers.get("Authorization"),
                "api_key": request.headers.get("X-JFrog-Art-Api"),
                "user_agent": request.headers.get("User-Agent"),
            }
        )

    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    async with serve({"/echo": echo}) as server:
        cases = [
            (BasicAuth(USER, Secret(PASSWORD)), basic, None),
            (BearerAuth(Secret(TOKEN)), f"Bearer {TOKEN}", None),
            (ApiKeyAuth(Secret(TOKEN)), None, TOKEN),
            (None, None, None),
        ]
        for auth, authorization, api_key in cases:
            async with make_client(server, auth=auth, user_agent="transfer-test/1") as client:
                seen = await client.request_json("GET", "echo")
            assert seen == {
                "authorization": authorization,
                "api_key": api_key,
                "user_agent": "transfer-test/1",
            }
    assert PASSWORD not in repr(BasicAuth(USER, Secret(PASSWORD)).password)
    assert "password" not in repr(BasicAuth(USER, Secret(PASSWORD)))


async def test_a_netrc_file_still_gives_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment is trusted (netrc, proxies) only when it names something: with a netrc
    file for the host, a client without credentials of its own sends the netrc ones; without
    one (or with NETRC naming a missing file) it sends none."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"authorization": request.headers.get("Authorization")})

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    async with serve({"/echo": echo}) as server:
        assert not environment_routes_http()
        async with make_client(server, auth=None) as client:
            assert await client.request_json("GET", "echo") == {"authorization": None}
        netrc.write_text(f"machine {server.host} login {USER} password {PASSWORD}\n")
        netrc.chmod(0o600)
        assert environment_routes_http()
        async with make_client(server, auth=None) as client:
            seen = await client.request_json("GET", "echo")
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert seen == {"authorization": basic}


def test_a_proxy_in_the_environment_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent/netrc")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert not environment_routes_http()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert environment_routes_http()


async def test_credentials_do_not_follow_a_redirect_to_another_host() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "authorization": request.headers.get("Authorization"),
                "api_key": request.headers.get("X-JFrog-Art-Api"),
            }
        )

    async with serve({"/cdn/file": echo}) as cdn:

        async def redirect_away(request: web.Request) -> web.Response:
            raise web.HTTPFound(str(cdn.make_url("/cdn/file")))

        async def redirect_home(request: web.Request) -> web.Response:
            raise web.HTTPFound("/echo")

        async with serve({"/away": redirect_away, "/home": redirect_home, "/echo": echo}) as origin:
            for auth in (BasicAuth(USER, Secret(PASSWORD)), ApiKeyAuth(Secret(TOKEN))):
                async with make_client(origin, auth=auth) as client:
                    assert await client.request_json("GET", "away") == {
                        "authorization": None,
                        "api_key": None,
                    }
                    same = await client.request_json("GET", "home")
                    assert same["authorization"] or same["api_key"]


async def test_a_redirect_loop_is_a_final_error() -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop?sig=SIGNATURE-VALUE")

    async with serve({"/loop": loop}) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep, max_redirects=5) as client:
            with pytest.raises(RemoteError) as info:
                await client.request("GET", "loop")
    err = info.value
    assert not err.retryable
    assert sleep.delays == []
    assert "too many redirects" in str(err)
    assert_clean(err)


async def test_redirects_are_not_followed_for_writes() -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async with serve({"/x": moved}) as server, make_client(server) as client:
        response = await client.request("PUT", "x", data=b"body", expected=(307,))
    assert response.status == 307


async def test_throttles_lower_the_adaptive_limit() -> None:
    handler, _ = counted(lambda: web.Response(status=429), ok_json)
    limiter = AdaptiveLimiter(8, increase_after=1)
    async with serve({"/x": handler}) as server, make_client(server, limiter=limiter) as c:
        await c.request("GET", "x")
    # 8 -> 4 on the 429, then +1 on the success that followed
    assert limiter.limit == 5
    assert limiter.throttles == 1
    assert limiter.in_flight == 0


async def test_stream_retried_retries_the_opening_only() -> None:
    handler, hits = counted(lambda: web.Response(status=503), lambda: web.Response(body=b"listing"))
    sleep = Recorder()
    async with serve({"/x": handler}) as server, make_client(server, sleep=sleep) as client:
        async with client.stream_retried("GET", "x") as response:
            assert b"".join([p async for p in response.iter_chunks()]) == b"listing"
        assert hits == [2]
        assert len(sleep.delays) == 1
    not_found, _ = counted(lambda: web.Response(status=404))
    async with serve({"/y": not_found}) as server, make_client(server, sleep=sleep) as client:
        with pytest.raises(NotFoundError):
            async with client.stream_retried("GET", "y"):
                pass
    assert len(sleep.delays) == 1  # a 404 is an answer, not retried


async def test_a_quota_running_low_lowers_the_limit_on_streams_too() -> None:
    remaining = iter([500, 100])

    async def download(request: web.Request) -> web.Response:
        quota = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": str(next(remaining))}
        return web.Response(body=b"bytes", headers=quota)

    limiter = AdaptiveLimiter(32, quota_low=0.1)
    async with serve({"/dl": download}) as server, make_client(server, limiter=limiter) as c:
        for _ in range(2):
            async with c.stream("GET", "dl") as response:
                assert b"".join([p async for p in response.iter_chunks()]) == b"bytes"
    assert (limiter.limit, limiter.throttles) == (16, 1)  # 100 of 1,000 left: push-back


@pytest.mark.parametrize("chunk_size", [4096, 100_000, 1024 * 1024])
async def test_stream_hands_on_pieces_of_at_most_chunk_size(chunk_size: int) -> None:
    payload = bytes(range(256)) * (3 * 4096) + b"tail!"

    async def download(request: web.Request) -> web.Response:
        return web.Response(body=payload)

    async with (
        serve({"/dl/f.bin": download}) as server,
        make_client(server) as client,
        client.stream("GET", "dl/f.bin") as response,
    ):
        assert response.status == 200
        assert response.content_length == len(payload)
        chunks = [c async for c in response.iter_chunks(chunk_size)]
    assert b"".join(chunks) == payload
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert all(len(c) >= min(chunk_size, SMALLEST_PIECE) for c in chunks[:-1])


async def test_stream_gathers_small_pieces_before_handing_them_on() -> None:
    # A server that trickles the body out in small writes (a slow link, TLS records): the
    # upload still gets pieces of at least SMALLEST_PIECE, not one write per socket read.
    piece = b"0123456789" * 100
    count = 400

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(piece) * count
        await response.prepare(request)
        for _ in range(count):
            await response.write(piece)
            await asyncio.sleep(0)
        return response

    async with (
        serve({"/dl/slow.bin": trickle}) as server,
        make_client(server) as client,
        client.stream("GET", "dl/slow.bin") as response,
    ):
        chunks = [c async for c in response.iter_chunks(1024 * 1024)]
    assert b"".join(chunks) == piece * count
    assert all(len(c) >= SMALLEST_PIECE for c in chunks[:-1])


async def test_stream_maps_a_status_error() -> None:
    handler, hits = counted(lambda: web.json_response({"message": "Not Found"}, status=404))
    async with serve({"/dl/f.bin": handler}) as server, make_client(server) as client:
        with pytest.raises(NotFoundError, match="Not Found"):
            async with client.stream("GET", "dl/f.bin?__gda__=exp=1~hmac=SIGNATURE-VALUE"):
                pytest.fail("a 404 must not be yielded")
    assert hits[0] == 1


async def drain(client: HttpClient, path: str) -> int:
    size = 0
    async with client.stream("GET", path) as response:
        async for chunk in response.iter_chunks(4096):
            size += len(chunk)
    return size


async def test_a_body_cut_short_is_transient() -> None:
    async def short(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 100_000
        await response.prepare(request)
        await response.write(b"x" * 1000)
        assert request.transport is not None
        request.transport.close()
        return response

    async with serve({"/dl": short}) as server, make_client(server) as client:
        with pytest.raises(TransientError) as info:
            await drain(client, "dl?X-Amz-Signature=SIGNATURE-VALUE")
    assert "was cut short" in str(info.value)
    assert_clean(info.value)


async def test_callers_own_errors_inside_a_stream_are_not_mapped() -> None:
    handler, _ = counted(lambda: web.Response(body=b"abc"))
    async with serve({"/x": handler}) as server, make_client(server) as client:
        with pytest.raises(PermissionError):
            async with client.stream("GET", "x"):
                raise PermissionError("disk says no")


async def test_send_streams_an_upload() -> None:
    async def deploy(request: web.Request) -> web.Response:
        data = await request.read()
        return web.json_response(
            {
                "sha1": hashlib.sha1(data).hexdigest(),
                "length": request.headers.get("Content-Length"),
                "chunked": request.headers.get("Transfer-Encoding"),
            },
            status=201,
        )

    parts = [b"a" * 70_000, b"b" * 70_000, b"c"]

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    total = sum(len(p) for p in parts)
    async with serve({"/repo/f": deploy}) as server, make_client(server) as client:
        response = await client.send(
            "PUT", "repo/f", data=body(), headers={"Content-Length": str(total)}
        )
        chunked = await client.send("PUT", "repo/f", data=body())
    assert response.status == 201
    assert response.json() == {
        "sha1": hashlib.sha1(b"".join(parts)).hexdigest(),
        "length": str(total),
        "chunked": None,
    }
    assert chunked.json()["chunked"] == "chunked"


async def test_send_raises_the_sources_own_error() -> None:
    async def deploy(request: web.Request) -> web.Response:
        with contextlib.suppress(Exception):  # the client gives up mid-body, as intended
            await request.read()
        return web.Response(status=201)

    async def broken_download() -> AsyncIterator[bytes]:
        yield b"x" * 10_000
        raise TransientError("download of a.jar was cut short", status=0)

    async with serve({"/repo/a.jar": deploy}) as server, make_client(server) as client:
        with pytest.raises(TransientError, match=r"download of a\.jar was cut short"):
            await client.send("PUT", "repo/a.jar", data=broken_download())


def _answer_409() -> None:
    raise ConflictError("an earlier answer, already handled")


async def test_an_upload_sent_while_handling_an_error_fails_for_its_own_reason() -> None:
    """An upload whose connection is dropped before the answer, sent from an ``except`` block
    handling an older error: the upload's own network failure is raised, not the error being
    handled (aiohttp's error has no cause: its context is that older error)."""

    async def cut_off(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()  # a proxy dropping the connection before the answer
        return web.Response(status=201)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 65_536
            await anyio.lowlevel.checkpoint()

    async with serve({"/repo/b.jar": cut_off}) as server, make_client(server) as client:
        try:
            _answer_409()
        except ConflictError:
            with pytest.raises(TransferError) as info:
                await client.send("PUT", "repo/b.jar", data=body())
    assert not isinstance(info.value, ConflictError), info.value
    assert "earlier answer" not in str(info.value)


async def test_send_maps_an_upload_status() -> None:
    handler, _ = counted(
        lambda: web.json_response(
            {"errors": [{"status": 409, "message": "Checksum policy violated"}]}, status=409
        )
    )
    async with serve({"/repo/a.jar": handler}) as server, make_client(server) as client:
        with pytest.raises(ConflictError, match="Checksum policy violated") as info:
            await client.send("PUT", "repo/a.jar", data=b"abc", headers={"X-Checksum-Sha1": "0"})
    assert_clean(info.value)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_verification(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, hits = counted(ok_json)
    async with serve({"/x": handler}, ssl_context=context) as server:
        sleep = Recorder()
        async with make_client(server, sleep=sleep) as client:
            with pytest.raises(TlsVerificationError) as info:
                await client.request("GET", "x")
        assert sleep.delays == []  # the same certificate fails the same way: no retry
        assert "CA bundle" in str(info.value)
        assert "--insecure" in str(info.value)
        assert info.value.exit_code == 3
        assert_clean(info.value)
        async with make_client(server, ca_bundle=cert) as client:
            assert await client.request_json("GET", "x") == {"ok": True}
        async with make_client(server, verify_tls=False) as client:
            assert await client.request_json("GET", "x") == {"ok": True}
    assert hits[0] == 2


# -- the pure helpers of transfer.http.error_mapping and transfer.redaction ----------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://alice:s3cr3t@bintray.example/api/v1/x?start_pos=50",
            "https://bintray.example/api/v1/x?start_pos=50",
        ),
        (
            "https://akamai.example/f.jar?__gda__=exp=1~hmac=abc&response-content-type=x",
            "https://akamai.example/f.jar?__gda__=***&response-content-type=x",
        ),
        (
            "https://s3.example/f?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&versionId=3",
            "https://s3.example/f?X-Amz-Credential=***&X-Amz-Signature=***&versionId=3",
        ),
        (
            "https://dl.example/r/f.jar?expiry=1&id=AbC&signature=Zm9v",
            "https://dl.example/r/f.jar?expiry=1&id=AbC&signature=***",
        ),
        ("http://h/a?sig=1&token=2&password=3&api_key=4", "http://h/a?sig=***&token=***&password=***&api_key=***"),
        ("https://h/a%3Ab/c;prop=v?q=%20", "https://h/a%3Ab/c;prop=v?q=%20"),
    ],
)  # fmt: skip
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_finds_urls_in_prose() -> None:
    text = "Cannot GET https://u:pw@h/x?token=abc, then http://h2/y?sig=zz."
    assert redact_text(text) == "Cannot GET https://h/x?token=***, then http://h2/y?sig=***."


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"message":"This resource requires authentication"}', "application/json",
         "This resource requires authentication"),
        (b'{"errors":[{"status":404,"message":"Unable to find item"}]}', None,
         "Unable to find item"),
        (b'{"errors":[{"status":400,"message":"a"},{"status":400,"message":"b"}]}', None, "a; b"),
        (b'{"error":"invalid_client","error_description":"Bad credentials"}', None,
         "invalid_client: Bad credentials"),
        (b"<html><head><title>503 Service\n Unavailable</title></head></html>", "text/html",
         "503 Service Unavailable"),
        (b"<html><body><h1>Oops</h1><p>more</p></body></html>", "text/html", "Oops"),
        (b"\n\nThis REST API is available only in Artifactory Pro.\nsecond line", "text/plain",
         "This REST API is available only in Artifactory Pro."),
        (b"", None, ""),
        (b'{"unrelated": 1}', None, '{"unrelated": 1}'),
    ],
)  # fmt: skip
def test_error_message_from_body(body: bytes, content_type: str | None, expected: str) -> None:
    assert error_message_from_body(body, content_type) == expected


def test_error_message_is_truncated() -> None:
    message = error_message_from_body(b"x" * 5000)
    assert len(message) == 200
    assert message.endswith("…")


def test_parse_retry_after() -> None:
    now = 1_445_412_000.0  # Wed, 21 Oct 2015 07:20:00 GMT
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 480.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk) is None


def test_quota_and_expiry_are_told_apart_by_the_message() -> None:
    quota = "Datastore disk space is too high: Max limit: 95%, Used: 96%"
    assert type(error_for_status(413, quota, "https://h/r/f")) is QuotaExceeded
    assert type(error_for_status(413, "Request Entity Too Large", "https://h/r/f")) is FileTooLarge
    assert type(error_for_status(401, "Token has expired", "https://h/r/f")) is TokenExpired
    assert type(error_for_status(401, "Bad credentials", "https://h/r/f")) is AuthError


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, RemoteError, False),
        (401, AuthError, False),
        (403, PermissionDenied, False),
        (404, NotFoundError, False),
        (405, RemoteError, False),
        (408, TransientError, True),
        (409, ConflictError, False),
        (413, FileTooLarge, False),
        (507, QuotaExceeded, False),
        (425, TransientError, True),
        (429, RateLimited, True),
        (500, TransientError, True),
        (501, RemoteError, False),
        (502, TransientError, True),
        (503, TransientError, True),
        (504, TransientError, True),
        (302, RemoteError, False),
    ],
)
def test_error_for_status(status: int, cls: type[RemoteError], retryable: bool) -> None:
    err = error_for_status(status, "msg", "https://u:p@h/x?token=t", {"retry-after": "3"})
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.retry_after == 3.0
    assert err.url == "https://h/x?token=***"
    assert f"HTTP {status} " in str(err)
