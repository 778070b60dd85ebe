"""One aiohttp session per service host: auth, timeouts, TLS, retries, pacing, error mapping.

Requests whose body can be replayed (:meth:`HttpClient.request`, :meth:`HttpClient.request_json`)
are retried here by :meth:`RetryPolicy.run`.  Streams (:meth:`HttpClient.stream`,
:meth:`HttpClient.send`) are not: a consumed stream cannot be replayed, so their callers retry
the whole transfer.  Every failure leaves this module as a :mod:`transfer.errors` exception whose
message holds no credential.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import ssl
import time
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from transfer.errors import (
    AnswerTooLarge,
    RemoteError,
    TransferError,
    TransientError,
    UnusableService,
)
from transfer.http.error_mapping import (
    error_for_status,
    error_message_from_body,
    is_throttle,
    map_exception,
)
from transfer.http.pacing import AdaptiveLimiter, RateLimitInfo
from transfer.http.retry import NO_RETRY, RetryHook, RetryPolicy, Sleep
from transfer.redaction import Secret, credential_values, redact_url, scrub_values

__all__ = [
    "JSON_BODY_LIMIT",
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "HttpClient",
    "HttpClientOwner",
    "HttpStats",
    "Response",
    "StreamedResponse",
    "Timeouts",
    "environment_routes_http",
]

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
_ERROR_BODY_LIMIT = 64 * 1024
_SAFE_METHODS = frozenset({"GET", "HEAD"})
STREAM_READ_BUFFER = 1024 * 1024
"""aiohttp's ``read_bufsize``: a response body stops being read from the socket once twice this
much waits unread (aiohttp's 64 KiB default pauses and resumes the socket every few reads, and
hands large bodies over in small pieces)."""
SMALLEST_PIECE = 64 * 1024
"""Downloaded pieces smaller than this are gathered up to it before they are handed on."""
JSON_BODY_LIMIT = 64 * 1024 * 1024
"""The largest body :meth:`HttpClient.request_json` reads (its ``max_body`` by default): the
API answers it parses are pages and records, and a larger one (a wrong URL serving a file, a
server that never ends its body) would be held whole in memory before parsing could fail."""

_Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]]
"""Query parameters, as aiohttp takes them (pairs when a name repeats)."""


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """``Authorization: Basic`` with a user and a password, API key or token."""

    user: str
    password: Secret = field(repr=False)

    def headers(self) -> dict[str, str]:
        """The request headers carrying this credential."""
        raw = f"{self.user}:{self.password.reveal()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """``Authorization: Bearer`` with an access token."""

    token: Secret = field(repr=False)

    def headers(self) -> dict[str, str]:
        """The request headers carrying this credential."""
        return {"Authorization": f"Bearer {self.token.reveal()}"}


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    """Artifactory's ``X-JFrog-Art-Api`` header (an API key without a user)."""

    key: Secret = field(repr=False)

    def headers(self) -> dict[str, str]:
        """The request headers carrying this credential."""
        return {"X-JFrog-Art-Api": self.key.reveal()}


Auth = BasicAuth | BearerAuth | ApiKeyAuth


_PROXY_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def environment_routes_http() -> bool:
    """Whether the environment names a proxy (``HTTP(S)_PROXY``) or a netrc file exists
    (``$NETRC``, else ``~/.netrc``): only then can aiohttp's ``trust_env`` change a request.

    aiohttp looks both up again on every request it sends with ``trust_env`` (a hop to a
    thread, a stat of the netrc file and a scan of the environment each time: about a fifth
    of the client's CPU when copying small files), so a session trusts the environment only
    when there is something in it to trust.  Decided when the session is made: the environment
    a run starts with is the one it keeps.
    """
    if _PROXY_SCHEMES.intersection(urllib.request.getproxies()):
        return True
    named = os.environ.get("NETRC")
    try:
        netrc = Path(named) if named is not None else Path.home() / ".netrc"
    except RuntimeError:  # no home directory: aiohttp finds no netrc either
        return False
    return netrc.exists()


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each phase of a request (``None``: no limit).

    ``connect`` bounds opening a socket (waiting for a free pooled connection is not counted:
    our own concurrency limits bound that); ``sock_read`` bounds every wait for the next bytes,
    so a hung server is noticed even mid-stream; ``total`` bounds a whole buffered request
    (:meth:`HttpClient.request`), ``stream_total`` a whole stream (unbounded by default: a
    1 GiB file on a slow link takes long, and ``sock_read`` already catches stalls).
    """

    connect: float | None = 15.0
    sock_read: float | None = 60.0
    total: float | None = 300.0
    stream_total: float | None = None

    def client_timeout(self, *, streaming: bool) -> aiohttp.ClientTimeout:
        """The aiohttp form of these limits."""
        return aiohttp.ClientTimeout(
            total=self.stream_total if streaming else self.total,
            sock_connect=self.connect,
            sock_read=self.sock_read,
        )


@dataclass(slots=True)
class HttpStats:
    """Counters for progress and the run report."""

    requests: int = 0
    """Attempts sent, retries included."""
    retries: int = 0
    """Attempts that were retries of a failed one."""
    throttled: int = 0
    """Answers that asked us to slow down (429, 503, exhausted rate limit)."""
    failures: int = 0
    """Requests that finally failed (after any retries)."""


@dataclass(frozen=True, slots=True)
class Response:
    """A fully read response."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str
    """The final URL (after redirects), unredacted: do not put it in messages as is."""
    method: str = "GET"

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; a clear non-retryable :class:`UnusableService` when it is
        not (exit code 3 if it ends the run)."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            safe = redact_url(self.url)
            kind = "empty body" if not self.body.strip() else f"invalid JSON ({exc})"
            first = self.body[:80].decode("utf-8", "replace")
            raise UnusableService(
                f"expected JSON from {self.method} {safe} (HTTP {self.status}, "
                f"{len(self.body)} bytes) but got {kind}; body starts {first!r}",
                status=self.status,
                url=safe,
            ) from None


class StreamedResponse:
    """A response whose body is read as it arrives; reading errors come out mapped."""

    def __init__(self, raw: aiohttp.ClientResponse, url: str, scrub: Callable[[str], str]) -> None:
        self.raw = raw
        """The aiohttp response, for what this wrapper does not expose."""
        self._url = url
        self._scrub = scrub

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.raw.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The response headers."""
        return self.raw.headers

    @property
    def url(self) -> str:
        """The final URL (after redirects), unredacted."""
        return str(self.raw.url)

    @property
    def content_length(self) -> int | None:
        """``Content-Length`` when the server sent one."""
        return self.raw.content_length

    async def iter_chunks(self, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """The body in pieces of at most ``chunk_size`` bytes, as they arrive.

        Each piece is the very ``bytes`` aiohttp made of one socket read (up to 256 KiB on
        loopback or a fast link), handed on without copying: joining pieces into whole
        chunks cost a copy of every byte (two, with aiohttp's own join in ``read(n)``) and
        a Python step per join, ~0.2 CPU s/GB.  Pieces smaller than :data:`SMALLEST_PIECE`
        (a slow link or TLS records) are gathered up to it and joined once, so the upload's
        writes stay few and large; a piece larger than ``chunk_size`` is cut.  How much may
        wait unread is bounded by the session's ``read_bufsize`` (:data:`STREAM_READ_BUFFER`).
        """
        read = self.raw.content.readchunk
        least = min(chunk_size, SMALLEST_PIECE)
        held: list[bytes] = []
        size = 0
        try:
            while True:
                data, http_chunk_end = await read()
                if not data:
                    if http_chunk_end:
                        continue  # the end of one HTTP chunk of a chunked body, not of the body
                    break
                if held and size + len(data) > chunk_size:
                    take = chunk_size - size  # top the gathered pieces up to a whole chunk
                    held.append(data[:take])
                    yield b"".join(held)
                    held, size, data = [], 0, data[take:]
                start = 0
                while len(data) - start > chunk_size:
                    yield data[start : start + chunk_size]
                    start += chunk_size
                if start:
                    data = data[start:]
                if not data:
                    continue
                held.append(data)
                size += len(data)
                if size >= least:
                    yield _joined(held)
                    held, size = [], 0
            if held:
                yield _joined(held)
        except _NETWORK_ERRORS as exc:
            raise _scrubbed(map_exception(exc, self._url), self._scrub) from None


def _joined(pieces: list[bytes]) -> bytes:
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _scrubbed(err: TransferError, scrub: Callable[[str], str]) -> TransferError:
    text = str(err)
    clean = scrub(text)
    if clean != text:
        err.args = (clean,)
    return err


class _UploadBody:
    """An upload's chunks, keeping the :class:`TransferError` their source raised (say, the
    download feeding it failed): aiohttp wraps it in a network error of its own, and the
    wrapper's chain may also lead to an older error that was being handled when the upload
    began, so the body itself says what broke."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.failure: TransferError | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        except TransferError as error:
            self.failure = error
            raise


class HttpClient:
    """Talks to one service: a base URL, credentials, one aiohttp session (connection pool).

    Use as ``async with HttpClient(...) as client:``.  Paths are joined to ``base_url``; an
    absolute ``http(s)://`` URL is used as is.  Paths and URLs must already be percent-encoded.
    Credentials are attached only to requests for ``base_url``'s origin, including after a
    redirect, so a CDN redirect never sees them.  ``sleep`` and ``rng`` are injected so retry
    delays can be tested without waiting; ``on_retry`` is told about every retry.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        user_agent: str = "transfer/0.1",
        timeouts: Timeouts | None = None,
        verify_tls: bool = True,
        ca_bundle: str | Path | None = None,
        max_connections: int = 16,
        retry_policy: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        on_retry: RetryHook | None = None,
        limiter: AdaptiveLimiter | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = URL(self.base_url).origin()
        self._auth_headers = auth.headers() if auth is not None else {}
        self._secrets = tuple(v for v in credential_values(self._auth_headers) if len(v) >= 4)
        self._user_agent = user_agent
        self.timeouts = timeouts or Timeouts()
        self._verify_tls = verify_tls
        self._ca_bundle = ca_bundle
        self._max_connections = max_connections
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._on_retry = on_retry
        self.limiter = limiter
        """Adaptive concurrency limit shared by this client's requests (``None``: none)."""
        self._follow_redirects = follow_redirects
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None
        self.stats = HttpStats()

    async def __aenter__(self) -> HttpClient:
        self._get_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            ssl_setting: ssl.SSLContext | bool = True
            if not self._verify_tls:
                ssl_setting = False
            elif self._ca_bundle is not None:
                ssl_setting = ssl.create_default_context(cafile=str(self._ca_bundle))
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=ssl_setting)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self._user_agent},
                middlewares=(self._authorize,),
                read_bufsize=STREAM_READ_BUFFER,
                # HTTP(S)_PROXY, NO_PROXY and ~/.netrc, as corporate networks need
                trust_env=environment_routes_http(),
            )
        return self._session

    async def _authorize(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        # Runs for every hop of a redirect chain: credentials only ever go to our own origin.
        if self._auth_headers and request.url.origin() == self._origin:
            request.headers.update(self._auth_headers)
        return await handler(request)

    def url_for(self, path_or_url: str) -> str:
        """The absolute URL for a path relative to ``base_url`` (absolute URLs pass through)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _scrub(self, text: str) -> str:
        return scrub_values(text, self._secrets)

    def _fail(self, err: TransferError) -> TransferError:
        return _scrubbed(err, self._scrub)

    def _slot(self) -> AbstractAsyncContextManager[None]:
        return self.limiter.slot() if self.limiter is not None else nullcontext()

    def _record(
        self,
        error: TransferError | None,
        seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self.limiter is not None and headers is not None:
            self.limiter.on_quota(RateLimitInfo.from_headers(headers))
        if error is None:
            if self.limiter is not None:
                self.limiter.on_success(seconds)
        elif is_throttle(error):
            self.stats.throttled += 1
            if self.limiter is not None:
                self.limiter.on_throttle()

    def _redirects(self, method: str, allow: bool | None) -> bool:
        if allow is not None:
            return allow
        return self._follow_redirects and method in _SAFE_METHODS

    async def _status_error(
        self, method: str, url: str, raw: aiohttp.ClientResponse
    ) -> RemoteError:
        try:
            body = await raw.content.read(_ERROR_BODY_LIMIT)
        except _NETWORK_ERRORS:
            body = b""
        message = self._scrub(error_message_from_body(body, raw.content_type))
        return error_for_status(raw.status, message, url, raw.headers, method=method)

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: _Params | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = (200,),
        retry: bool = True,
        allow_redirects: bool | None = None,
        timeouts: Timeouts | None = None,
        max_body: int | None = None,
    ) -> Response:
        """Send one request and read the whole answer; retry retryable failures.

        A status outside ``expected`` raises the error :func:`error_for_status` picks (its
        message quotes the server's own, shortened).  Retries honour ``Retry-After``.
        Every try of a non-idempotent request is a new request: callers creating things must
        accept "already exists" on a retry, or pass ``retry=False``.  A body larger than
        ``max_body`` bytes (``None``: no limit) is not read on: it raises a non-retryable
        :class:`UnusableService` naming the URL and the size.
        """
        method = method.upper()
        url = self.url_for(path_or_url)
        body: bytes | str | None = data
        send_headers = dict(headers or {})
        if json is not None:
            body = orjson.dumps(json)
            send_headers.setdefault("Content-Type", "application/json")

        async def once(_attempt: int) -> Response:
            return await self._exchange(
                method,
                url,
                params=params,
                data=body,
                headers=send_headers,
                expected=expected,
                allow_redirects=self._redirects(method, allow_redirects),
                timeouts=timeouts or self.timeouts,
                max_body=max_body,
            )

        policy = self.retry_policy if retry else NO_RETRY
        try:
            return await policy.run(once, on_retry=self._retried, sleep=self._sleep, rng=self._rng)
        except TransferError:
            self.stats.failures += 1
            raise

    def _retried(self, attempt: int, delay: float, error: Exception) -> None:
        self.stats.retries += 1
        if self._on_retry is not None:
            self._on_retry(attempt, delay, error)

    def _sent(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        params: _Params | None,
        data: AsyncIterable[bytes] | bytes | str | None,
        headers: Mapping[str, str] | None,
        allow_redirects: bool,
        timeout: aiohttp.ClientTimeout,
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """The request as every path sends it: the URL as given (callers percent-encode it;
        yarl must not encode it again), at most ``max_redirects`` hops when redirects are
        followed; credentials are added by :meth:`_authorize` for each hop."""
        return session.request(
            method,
            URL(url, encoded=True),
            params=params,
            data=data,
            headers=headers,
            allow_redirects=allow_redirects,
            max_redirects=self._max_redirects,
            timeout=timeout,
        )

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        params: _Params | None,
        data: AsyncIterable[bytes] | bytes | str | None,
        headers: Mapping[str, str] | None,
        expected: Sequence[int],
        allow_redirects: bool,
        timeouts: Timeouts,
        max_body: int | None = None,
        upload: bool = False,
        source: _UploadBody | None = None,
    ) -> Response:
        """One try of a request whose whole answer is read: each try :meth:`request` makes,
        and the one :meth:`send` makes.

        The try holds a limiter slot and is counted; a status outside ``expected``, a body
        over ``max_body`` and a network failure come out as the mapped, scrubbed
        :class:`TransferError`; the limiter hears the outcome and the rate-limit headers.
        An ``upload``'s body is our own stream (a download feeding it): the try is bounded by
        the stream timeouts, and its round trip times the source as much as the server and is
        not given to the limiter. A :class:`TransferError` its chunk ``source`` raised is the
        reason it failed, not the network error aiohttp wraps it in.
        """
        session = self._get_session()
        async with self._slot():
            self.stats.requests += 1
            started = None if upload else time.monotonic()
            try:
                async with self._sent(
                    session,
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    allow_redirects=allow_redirects,
                    timeout=timeouts.client_timeout(streaming=upload),
                ) as raw:
                    return await self._buffered(method, url, raw, expected, started, max_body)
            except _NETWORK_ERRORS as exc:
                if source is not None and source.failure is not None:
                    raise source.failure from None
                raise self._fail(map_exception(exc, url)) from None

    async def _buffered(
        self,
        method: str,
        url: str,
        raw: aiohttp.ClientResponse,
        expected: Sequence[int],
        started: float | None,
        max_body: int | None,
    ) -> Response:
        """The whole answer read into a :class:`Response`, or the mapped error; the limiter
        hears the outcome, the round trip (from ``started``) and the rate-limit headers."""
        if raw.status not in expected:
            error = await self._status_error(method, url, raw)
            self._record(error, headers=raw.headers)
            raise self._fail(error)
        if max_body is None:
            payload = await raw.read()
        else:
            payload = await self._read_at_most(method, url, raw, max_body)
        elapsed = None if started is None else time.monotonic() - started
        self._record(None, elapsed, raw.headers)
        return Response(
            status=raw.status, headers=raw.headers, body=payload, url=str(raw.url), method=method
        )

    async def _read_at_most(
        self, method: str, url: str, raw: aiohttp.ClientResponse, limit: int
    ) -> bytes:
        """The body, or :class:`UnusableService` as soon as it is known to pass ``limit``
        bytes: from ``Content-Length`` before reading, else by counting what arrives (decoded
        bytes, so a small compressed body that inflates is caught too)."""
        declared = None if method == "HEAD" else raw.content_length
        if declared is not None and declared > limit:
            raise self._too_large(method, url, raw, f"declares {declared:,} bytes", limit)
        pieces: list[bytes] = []
        size = 0
        async for piece in raw.content.iter_any():
            size += len(piece)
            if size > limit:
                raise self._too_large(method, url, raw, f"sent {size:,} bytes and more", limit)
            pieces.append(piece)
        return b"".join(pieces)

    def _too_large(
        self, method: str, url: str, raw: aiohttp.ClientResponse, said: str, limit: int
    ) -> TransferError:
        safe = redact_url(url)
        error = AnswerTooLarge(
            f"the answer to {method} {safe} (HTTP {raw.status}) {said}, more than the "
            f"{limit:,} bytes read for this call: not the API answer expected; check that "
            "the URL points at the service's API",
            status=raw.status,
            url=safe,
        )
        self._record(error, headers=raw.headers)
        return self._fail(error)

    async def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        params: _Params | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = (200,),
        retry: bool = True,
        timeouts: Timeouts | None = None,
        max_body: int | None = JSON_BODY_LIMIT,
    ) -> Any:
        """:meth:`request`, then the body parsed as JSON (``None`` for a 204 answer).

        A body that is not JSON, or is cut off, raises a non-retryable :class:`UnusableService`
        naming the URL and quoting the first bytes; so does one larger than ``max_body`` bytes
        (:data:`JSON_BODY_LIMIT` unless given; ``None``: no limit), naming the URL and the
        size, before more of it is read.
        """
        send_headers = {"Accept": "application/json", **(headers or {})}
        response = await self.request(
            method,
            path_or_url,
            params=params,
            json=json,
            data=data,
            headers=send_headers,
            expected=expected,
            retry=retry,
            timeouts=timeouts,
            max_body=max_body,
        )
        if response.status == 204 and not response.body:
            return None
        try:
            return response.json()
        except RemoteError as err:
            self.stats.failures += 1
            raise self._fail(err) from None

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path_or_url: str,
        *,
        params: _Params | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        expected: Sequence[int] = (200,),
        allow_redirects: bool | None = None,
        timeouts: Timeouts | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """Open a response for streaming its body (downloads, listings read as they arrive);
        never retried here.

        Yields once the status is known to be in ``expected``; read the body with
        :meth:`StreamedResponse.iter_chunks`.  Redirects are followed for GET/HEAD.
        """
        method = method.upper()
        url = self.url_for(path_or_url)
        session = self._get_session()
        opened = False
        async with self._slot():
            self.stats.requests += 1
            try:
                async with self._sent(
                    session,
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    allow_redirects=self._redirects(method, allow_redirects),
                    timeout=(timeouts or self.timeouts).client_timeout(streaming=True),
                ) as raw:
                    # the rate-limit headers count here too, as in request() and send()
                    if raw.status not in expected:
                        error = await self._status_error(method, url, raw)
                        self._record(error, headers=raw.headers)
                        self.stats.failures += 1
                        raise self._fail(error)
                    self._record(None, headers=raw.headers)
                    opened = True
                    yield StreamedResponse(raw, url, self._scrub)
            except _NETWORK_ERRORS as exc:
                # Once the body is the caller's, only aiohttp's own errors are ours to map:
                # an OSError from the caller (a full disk) is not a network failure.
                if opened and not isinstance(exc, aiohttp.ClientError):
                    raise
                self.stats.failures += 1
                raise self._fail(map_exception(exc, url)) from None

    @asynccontextmanager
    async def stream_retried(
        self, method: str, path_or_url: str, **options: Any
    ) -> AsyncIterator[StreamedResponse]:
        """:meth:`stream` (same ``options``) with its opening retried as :meth:`request`
        retries, until the status is known; the body, once the caller's, is not retried."""

        async def once(_attempt: int) -> tuple[AsyncExitStack, StreamedResponse]:
            stack = AsyncExitStack()
            try:
                response = await stack.enter_async_context(
                    self.stream(method, path_or_url, **options)
                )
            except BaseException:
                await stack.aclose()
                raise
            return stack, response

        stack, response = await self.retry_policy.run(
            once, on_retry=self._retried, sleep=self._sleep, rng=self._rng
        )
        async with stack:
            yield response

    async def send(
        self,
        method: str,
        path_or_url: str,
        *,
        data: AsyncIterable[bytes] | bytes,
        headers: Mapping[str, str] | None = None,
        params: _Params | None = None,
        expected: Sequence[int] = (200, 201),
        timeouts: Timeouts | None = None,
    ) -> Response:
        """Upload ``data`` (bytes, or chunks streamed as they come) and read the answer.

        Not retried: a stream cannot be replayed.  Pass ``Content-Length`` in ``headers`` when
        the size is known, or the body goes out chunked.  If the chunk source itself fails with
        a :class:`TransferError` (the download feeding the upload broke), that error is raised
        rather than a network error of the upload.
        """
        method = method.upper()
        url = self.url_for(path_or_url)
        limits = timeouts or self.timeouts
        stall = anyio.CancelScope()
        body: AsyncIterable[bytes] | bytes = data
        source = watch = None
        if not isinstance(data, bytes):
            body = source = _UploadBody(data)
            if limits.sock_read is not None:
                # aiohttp's read timeout starts only once the body is written: a server that
                # stops reading mid-upload would hold the worker forever. The same limit, as a
                # watchdog.
                watch = _StallWatch(stall, limits.sock_read)
                body = watch.watched(source)
        try:
            with stall:
                return await self._exchange(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    expected=expected,
                    allow_redirects=False,
                    timeouts=limits,
                    upload=True,
                    source=source,
                )
        except TransferError:
            self.stats.failures += 1
            raise
        finally:
            if watch is not None:
                watch.close()
        self.stats.failures += 1
        safe = redact_url(url)
        raise TransientError(
            f"upload to {safe} stalled: the server took no data for {limits.sock_read:g}s",
            url=safe,
        )


class _StallWatch:
    """Cancels ``stall`` when the server takes more than ``limit`` seconds to accept a chunk of
    an upload: one timer per ``limit`` seconds, which checks the chunk handed to the server at
    :attr:`since`.

    A deadline moved at every chunk (``CancelScope.deadline``, twice per chunk) cost a new
    timer and a clock read through anyio each time: 3 % of the CPU of a large-file copy."""

    def __init__(self, stall: anyio.CancelScope, limit: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.since: float | None = None  # when the chunk now with the server was handed to it
        self._stall = stall
        self._limit = limit
        self._timer = self.loop.call_later(limit, self._check)

    def _check(self) -> None:
        wait = self._limit
        if self.since is not None:
            wait = self.since + self._limit - self.loop.time()
            if wait <= 0:
                self._stall.cancel()
                return
        self._timer = self.loop.call_later(wait, self._check)

    async def watched(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """``chunks``, the clock running while each is with the server: waiting for the next
        one from our own source (a slow download) is not the server's silence."""
        now = self.loop.time
        async for chunk in chunks:
            self.since = now()
            yield chunk
            self.since = None

    def close(self) -> None:
        """Stop watching (the upload ended)."""
        self._timer.cancel()


class HttpClientOwner:
    """Base of API clients built on one :class:`HttpClient` in ``self._client``: opening and
    closing the client is opening and closing them."""

    _client: HttpClient

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)
