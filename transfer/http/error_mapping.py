"""The one place where HTTP statuses and aiohttp/asyncio exceptions become :mod:`transfer.errors`.

Every message built here names the (redacted) URL and says what to do; none carries a
credential: URLs go through :func:`~transfer.redaction.redact_url`, and library exception texts
through :func:`~transfer.redaction.redact_text` before they are quoted.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import http
import re
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from multidict import CIMultiDict

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
)
from transfer.redaction import redact_text, redact_url

__all__ = [
    "MAX_MESSAGE_CHARS",
    "error_for_status",
    "error_message_from_body",
    "is_throttle",
    "map_exception",
    "parse_retry_after",
]

MAX_MESSAGE_CHARS = 200
"""Longest server-supplied text quoted in an error message."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    ``None`` when absent or unparseable; a date in the past gives ``0.0``.  ``now`` is the
    current Unix time (injected for tests).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # nan/inf are not delays; negative ones mean "now".
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _message_from_json(doc: Any) -> str | None:
    if isinstance(doc, dict):
        errors = doc.get("errors")
        if isinstance(errors, list):
            texts = [
                str(e.get("message") or e.get("code") or "") if isinstance(e, dict) else str(e)
                for e in errors
            ]
            joined = "; ".join(t for t in texts if t)
            if joined:
                return joined
        description = doc.get("error_description")
        if isinstance(description, str) and description:
            code = doc.get("error")
            return f"{code}: {description}" if isinstance(code, str) and code else description
        for key in ("message", "error", "detail", "msg", "warn"):
            value = doc.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                inner = _message_from_json(value)
                if inner:
                    return inner
    if isinstance(doc, str) and doc:
        return doc
    return None


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def error_message_from_body(body: bytes, content_type: str | None = None) -> str:
    """A short human message from an error response body (at most 200 characters).

    Understands Bintray ``{"message": ...}``, Artifactory ``{"errors": [{"status", "message"}]}``
    and OAuth ``{"error", "error_description"}``; HTML gives its ``<title>`` (or first text line),
    anything else its first non-empty line.  Empty for an empty body.
    """
    stripped = body.strip()
    if not stripped:
        return ""
    if stripped[:1] in (b"{", b"[", b'"'):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass
        else:
            found = _message_from_json(doc)
            return _clip(found if found else stripped.decode("utf-8", "replace"))
    looks_html = (content_type or "").lower().startswith("text/html") or stripped[:1] == b"<"
    if looks_html:
        title = _TITLE.search(stripped)
        if title:
            text = html.unescape(title.group(1).decode("utf-8", "replace")).strip()
            if text:
                return _clip(text)
        plain = html.unescape(_TAG.sub("\n", stripped.decode("utf-8", "replace")))
    else:
        plain = stripped.decode("utf-8", "replace")
    first = next((line.strip() for line in plain.splitlines() if line.strip()), "")
    return _clip(first)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


# Artifactory's quota refusal says "Datastore disk space is too high: Max limit: N%, Used: M%"
# (its StorageQuotaInfo); other services and proxies say "quota" or "storage ... exceeded".
_QUOTA_WORDS = re.compile(r"quota|disk space|insufficient storage|storage (?:limit|space)", re.I)
_EXPIRED_WORDS = re.compile(r"expired", re.I)


def error_for_status(
    status: int,
    message: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "",
    now: float | None = None,
) -> RemoteError:
    """The error for an unexpected HTTP ``status`` (``message`` is the server's short text).

    401 → :class:`AuthError` (:class:`TokenExpired` when the message says "expired"); 413 →
    :class:`QuotaExceeded` when the message speaks of a quota or disk space, else
    :class:`FileTooLarge`; 507 → :class:`QuotaExceeded`; 403 → :class:`PermissionDenied`, or
    :class:`RateLimited` when
    ``X-RateLimit-Remaining`` is 0; 404 → :class:`NotFoundError`; 409 → :class:`ConflictError`;
    429 → :class:`RateLimited`; 408/425 and 5xx (but 501/505) → :class:`TransientError`; any
    other status → a non-retryable :class:`RemoteError`.  ``retry_after`` comes from
    ``Retry-After`` (seconds or an HTTP date).
    """
    safe_url = redact_url(url)
    where = f"{method.upper()} {safe_url}" if method else safe_url
    said = f": {message}" if message else ""
    head = f"HTTP {status} {_phrase(status)} from {where}{said}"
    found = CIMultiDict(headers or {})  # header names are case-insensitive
    retry_after = parse_retry_after(found.get("Retry-After"), now=now)
    kwargs: dict[str, Any] = {"status": status, "url": safe_url, "retry_after": retry_after}

    if status == 401 and _EXPIRED_WORDS.search(message):
        return TokenExpired(
            f"{head} — the access token has expired; create a new one, put it in the "
            "configuration, and run the same command again to resume",
            **kwargs,
        )
    if status == 507 or (status == 413 and _QUOTA_WORDS.search(message)):
        return QuotaExceeded(
            f"{head} — the target's storage quota is exhausted; free space or raise the "
            "quota, then run the same command again to resume",
            **kwargs,
        )
    if status == 413:
        return FileTooLarge(
            f"{head} — the file is larger than the target accepts in one upload", **kwargs
        )
    if status == 401:
        return AuthError(
            f"{head} — the credentials were refused; check the user name and the API key "
            "or token configured for this service",
            **kwargs,
        )
    if status == 403:
        remaining = found.get("X-RateLimit-Remaining", "").strip()
        if remaining == "0" or "exceeded your api call" in message.lower():
            return RateLimited(f"{head} — the API rate limit is exhausted", **kwargs)
        return PermissionDenied(
            f"{head} — the user is authenticated but not allowed to do this", **kwargs
        )
    if status == 404:
        return NotFoundError(head, **kwargs)
    if status == 409:
        return ConflictError(head, **kwargs)
    if status == 429:
        return RateLimited(f"{head} — the server asks us to slow down", **kwargs)
    if status in (408, 425):
        return TransientError(head, **kwargs)
    # 501 Not Implemented and 505 HTTP Version Not Supported will answer the same way again.
    if status >= 500 and status not in (501, 505):
        return TransientError(head, **kwargs)
    return RemoteError(head, **kwargs)


def is_throttle(error: BaseException) -> bool:
    """Whether ``error`` is the server asking us to slow down (429, exhausted limit, or 503)."""
    return isinstance(error, RateLimited) or (
        isinstance(error, RemoteError) and error.status == 503
    )


def _detail(exc: BaseException) -> str:
    text = redact_text(str(exc)).strip()
    name = type(exc).__name__
    return f"{name}: {_clip(text)}" if text else name


def _tls_error(exc: BaseException, safe_url: str, host: str) -> UnreachableError:
    advice = (
        "if the server uses a private CA, point the CA bundle setting at its certificate; "
        "the --insecure flag turns verification off (only for tests)"
    )
    # ssl.CertificateError is ssl.SSLCertVerificationError.
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.CertificateError):
        return TlsVerificationError(
            f"TLS certificate of {host} could not be verified ({_detail(exc)}); {advice}",
            url=safe_url,
        )
    return UnreachableError(
        f"TLS handshake with {host} failed ({_detail(exc)}); {advice}", url=safe_url
    )


def map_exception(exc: BaseException, url: str) -> TransferError:
    """The :class:`TransferError` for a library exception raised while talking to ``url``.

    A :class:`TransferError` is returned unchanged.  Connection failures become
    :class:`UnreachableError` (TLS verification failures the non-retryable
    :class:`TlsVerificationError`); resets, disconnects, truncated bodies and timeouts
    :class:`TransientError`; a redirect loop or an invalid redirect a non-retryable
    :class:`RemoteError`.
    """
    if isinstance(exc, TransferError):
        return exc
    safe_url = redact_url(url)
    try:
        host = urlsplit(safe_url).netloc or safe_url
    except ValueError:
        host = safe_url

    if isinstance(
        exc,
        aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError,
    ):
        return _tls_error(exc, safe_url, host)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return UnreachableError(
            f"cannot reach host {exc.host}: DNS lookup failed ({_detail(exc.os_error)}); "
            "check the URL in the configuration",
            url=safe_url,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UnreachableError(
            f"cannot reach host {exc.host}:{exc.port} ({_detail(exc.os_error)}); "
            "check the URL and that the service is up",
            url=safe_url,
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UnreachableError(
            f"cannot reach host {host}: timed out while connecting", url=safe_url
        )
    if isinstance(exc, aiohttp.TooManyRedirects):
        # A redirect loop is a server or proxy misconfiguration: trying again loops again.
        hops = len(exc.history)
        return RemoteError(
            f"too many redirects ({hops}) starting at {safe_url}: the server redirects in a "
            "loop; check the URL (http vs https, trailing slash) and any proxy in between",
            url=safe_url,
        )
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.RedirectClientError):
        return RemoteError(
            f"invalid URL while requesting {safe_url} ({_detail(exc)})", url=safe_url
        )
    if isinstance(exc, asyncio.TimeoutError):  # includes aiohttp's ServerTimeoutError
        return TransientError(
            f"timed out waiting for {safe_url} ({_detail(exc)}); the server is slow or hung",
            url=safe_url,
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransientError(
            f"server closed the connection before answering {safe_url}", url=safe_url
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransientError(
            f"response body from {safe_url} was cut short ({_detail(exc)})", url=safe_url
        )
    if isinstance(exc, ConnectionResetError):
        return TransientError(f"connection reset while talking to {safe_url}", url=safe_url)
    if isinstance(exc, aiohttp.ClientResponseError):
        return error_for_status(exc.status, _clip(exc.message), url, exc.headers)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TransientError(
            f"network error while talking to {safe_url} ({_detail(exc)})", url=safe_url
        )
    return RemoteError(
        f"unexpected error while talking to {safe_url} ({_detail(exc)})", url=safe_url
    )
