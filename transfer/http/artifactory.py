"""What every Artifactory client speaks, whichever end of a migration it is: the credential
forms (reference §1.2), item path encoding, and the "is this a usable Artifactory" check
(ping, then the version).  The target (:mod:`transfer.targets.artifactory`) and the source
(:mod:`transfer.sources.artifactory`) both build on it, so neither imports the other.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from transfer.errors import NotFoundError, UnusableService
from transfer.http.client import ApiKeyAuth, Auth, BasicAuth, BearerAuth, HttpClient, Response
from transfer.redaction import Secret, redact_url

__all__ = [
    "MINIMUM_VERSION",
    "check_artifactory",
    "choose_auth",
    "encode_item_path",
    "encode_name",
    "looks_html",
    "parse_version",
    "ping_artifactory",
]

MINIMUM_VERSION = (6, 6, 0)
"""Oldest Artifactory we talk to: permission targets v2 and ``PATCH /api/metadata`` exist."""


def choose_auth(
    user: str | None,
    password: Secret | None = None,
    token: Secret | None = None,
    api_key: Secret | None = None,
) -> Auth:
    """The credential form of reference §1.2: Bearer for a token, Basic for user + password
    (or user + API key), ``X-JFrog-Art-Api`` for an API key without a user."""
    given = [s for s in (password, token, api_key) if s is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of password, token, api_key")
    if token is not None:
        return BearerAuth(token)
    if password is not None:
        if not user:
            raise ValueError("a password needs a user")
        return BasicAuth(user, password)
    assert api_key is not None
    return BasicAuth(user, api_key) if user else ApiKeyAuth(api_key)


@functools.lru_cache(maxsize=16384)
def encode_name(name: str) -> str:
    """One path segment percent-encoded: ``;`` → ``%3B`` (else a matrix parameter), ``+`` →
    ``%2B``, space → ``%20``, ``/`` → ``%2F``, non-ASCII as UTF-8.

    Cached: a run encodes the same repository keys, folders and property names and values
    for file after file (``quote`` was 3 % of a small-file run's event loop)."""
    return quote(name, safe="")


def encode_item_path(repo_key: str, path: str) -> str:
    """``repo/path`` with every segment encoded and the slashes kept."""
    return "/".join(encode_name(part) for part in [repo_key, *path.split("/")])


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.77.5"`` → ``(7, 77, 5)``; non-numeric tails (``-rc1``) are ignored."""
    parts: list[int] = []
    for piece in text.strip().split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def looks_html(response: Response) -> bool:
    """Whether an answer is a web page (a login portal or proxy), not Artifactory's API."""
    content_type = response.headers.get("Content-Type", "").lower()
    return "html" in content_type or response.body.lstrip()[:1] == b"<"


def _not_artifactory(
    client: HttpClient, role: str, what: str, response: Response
) -> UnusableService:
    kind = "an HTML page" if looks_html(response) else f"{response.body[:40]!r}"
    return UnusableService(
        f"{what} at {redact_url(client.url_for('api/system/ping'))} answered "
        f"{kind} instead of Artifactory's answer: check that the {role} URL is the "
        "Artifactory base URL (it usually ends in /artifactory) and that no proxy or "
        "login page sits in front of it",
        status=response.status,
        url=redact_url(response.url),
    )


async def ping_artifactory(client: HttpClient, *, role: str = "target") -> None:
    """``GET /api/system/ping`` must answer ``OK`` (plain text); a 404 there means the URL
    is not Artifactory's base URL (exit 3 with that advice, not a per-file failure)."""
    try:
        response = await client.request("GET", "api/system/ping")
    except NotFoundError as error:
        raise UnusableService(
            f"the ping at {error.url} answered 404 Not Found: check that the {role} URL "
            "is the Artifactory base URL (it usually ends in /artifactory)",
            status=404,
            url=error.url,
        ) from None
    if response.text().strip() != "OK":
        raise _not_artifactory(client, role, "the ping", response)


async def check_artifactory(client: HttpClient, *, role: str = "target") -> str:
    """Ping (``OK`` in plain text), then ``GET /api/system/version`` authenticated; returns the
    version.  A wrong URL or a web page is an :class:`UnusableService` naming the ``role``
    (``target``, ``source``), refused credentials an ``AuthError``, a version older than
    :data:`MINIMUM_VERSION` an :class:`UnusableService` saying so."""
    await ping_artifactory(client, role=role)
    response = await client.request(
        "GET", "api/system/version", headers={"Accept": "application/json"}
    )
    if looks_html(response):
        raise _not_artifactory(client, role, "the version call", response)
    body = response.json()
    version = str(body.get("version", "")) if isinstance(body, dict) else ""
    numbers = parse_version(version)
    if not numbers:
        raise _not_artifactory(client, role, "the version call", response)
    if numbers < MINIMUM_VERSION:
        oldest = ".".join(map(str, MINIMUM_VERSION))
        raise UnusableService(
            f"the {role} Artifactory {version} is too old: this tool needs {oldest} or newer "
            "(permission targets v2, PATCH /api/metadata)",
            status=response.status,
            url=redact_url(response.url),
        )
    return version
