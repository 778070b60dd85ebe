"""A per-service circuit breaker: when every call to one service fails the same way, the run
stops instead of failing every file.

A refused connection, a DNS failure, refused credentials (401), a denied permission (403), a
missing repository (404 from the target) or a server error that outlasts the retries says
nothing about the file being copied and everything about the service. After ``threshold`` such
failures in a row from one service (no success in between), the breaker *trips*: the caller stops
the run with exit code 3 and leaves the items pending, and :meth:`Trip.message` says which service
failed how and what to check. Failures that are about one file (a checksum mismatch, a 404 for
one download, a path conflict) neither count nor reset the streak. An expired access token and a
full storage quota trip it at the first failure: the service said plainly that nothing more will
go through until someone acts.

Pure bookkeeping, no I/O: callers report each failed try (the retry path's hook) and each
success.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from transfer.errors import (
    AuthError,
    NotFoundError,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RemoteError,
    TokenExpired,
    TransientError,
    UnreachableError,
    UnusableService,
)

__all__ = ["DEFAULT_THRESHOLD", "CircuitBreaker", "Trip", "systemic_cause"]

DEFAULT_THRESHOLD = 10
"""Systemic failures in a row from one service that stop the run."""

_ADVICE = {
    "unreachable": "check that it is running, and the URL, DNS, firewall and proxy",
    "credentials": "check the credentials configured for it",
    "permission": "check that the configured user may read (source) or deploy (target)",
    "missing": "check that the repositories exist and that the URL is the right service",
    "unusable": "check that the URL points at the right service",
    "server": "check its health (it answers with server errors)",
    "quota": "free space or raise the storage quota, then run the same command again to resume",
    "token": "create a new access token, put it in the configuration and run the same command "
    "again to resume",
}


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a failure is systemic: a short description and the kind of advice it gets."""

    text: str
    kind: str
    at_once: bool = False
    """Trips on the first failure: the service said plainly that no later call can succeed
    (an expired token, a full storage quota), so trying ``threshold`` more files is waste."""


def systemic_cause(error: BaseException, service: str, *, worked: bool = False) -> Cause | None:
    """Why ``error`` (raised by a call to ``service``) is about the service rather than one
    file, or ``None`` when it may be about the file alone. ``worked``: calls with the same
    credentials went through earlier in this run."""
    if isinstance(error, RateLimited) or not isinstance(error, RemoteError):
        return None  # a 429 is the service asking for patience, handled by pacing
    if isinstance(error, TokenExpired):
        return Cause("says the access token has expired (HTTP 401)", "token", at_once=True)
    if isinstance(error, AuthError) and worked:
        # a HEAD's 401 has no body to say why; credentials that worked an hour ago and are
        # refused now expired or were revoked, and every later call will be refused too
        return Cause(
            "refused credentials it accepted earlier in this run: the access token has "
            "expired or was revoked (HTTP 401)",
            "token",
            at_once=True,
        )
    if isinstance(error, QuotaExceeded) and service == "target":
        return Cause(
            f"refuses to store more: its quota is exhausted (HTTP {error.status})",
            "quota",
            at_once=True,
        )
    if isinstance(error, UnreachableError):
        return Cause("cannot be reached (connection refused, DNS or TLS)", "unreachable")
    if isinstance(error, AuthError):
        return Cause("refused the credentials (HTTP 401)", "credentials")
    if isinstance(error, PermissionDenied):
        return Cause("denied access (HTTP 403)", "permission")
    if isinstance(error, UnusableService):
        return Cause("does not answer as the expected service", "unusable")
    if isinstance(error, NotFoundError) and service == "target":
        return Cause("answered 404 Not Found (a missing repository?)", "missing")
    if isinstance(error, TransientError):
        if error.status == 503 and error.retry_after is not None:
            return None  # a maintenance window asking for patience, which the retries give
        if error.status >= 500:
            return Cause(f"keeps answering HTTP {error.status}", "server")
        if error.status == 0:
            return Cause("keeps dropping or timing out connections", "unreachable")
    return None


@dataclass(frozen=True, slots=True)
class Trip:
    """The breaker tripped: ``service`` (its ``url``) failed ``count`` times in a row."""

    service: str
    url: str
    cause: Cause
    count: int
    last_error: str
    items: tuple[int, ...] = ()
    """Items recorded failed in the streak before it tripped: the caller re-opens them."""

    def message(self) -> str:
        """One line: which service failed how, what to check. The last error is cut to its
        first clause: its own advice (about one request) would say the same thing again."""
        where = f" ({self.url})" if self.url else ""
        last = re.split(r" — |; ", self.last_error, maxsplit=1)[0].strip()
        said = f" (last: {last})" if last else ""
        return (
            f"the {self.service}{where} {self.cause.text} {self.count} times in a row{said} — "
            f"{_ADVICE[self.cause.kind]}"
        )


@dataclass(slots=True)
class _Streak:
    count: int = 0
    items: list[int] = field(default_factory=list)


class CircuitBreaker:
    """Counts systemic failures in a row per service; trips once at ``threshold``.

    ``urls`` names each service's base URL for the message; ``on_trip`` is called once, when it
    trips (the runner asks the run to stop there). A ``threshold`` of 0 never trips.
    """

    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        urls: Mapping[str, str] | None = None,
        on_trip: Callable[[Trip], None] | None = None,
    ) -> None:
        self._threshold = threshold
        self._urls = dict(urls or {})
        self._on_trip = on_trip
        self._streaks: dict[str, _Streak] = {}
        self._worked = False
        self.tripped: Trip | None = None

    def failure(self, service: str, error: BaseException) -> bool:
        """Count a failed try of a call to ``service``; True when the breaker is (now) tripped."""
        if self.tripped is not None:
            return True
        cause = systemic_cause(error, service, worked=self._worked)
        if cause is None or self._threshold <= 0:
            return False
        streak = self._streaks.setdefault(service, _Streak())
        streak.count += 1
        if streak.count < self._threshold and not cause.at_once:
            return False
        self.tripped = Trip(
            service,
            self._urls.get(service, ""),
            cause,
            streak.count,
            str(error),
            tuple(streak.items),
        )
        if self._on_trip is not None:
            self._on_trip(self.tripped)
        return True

    def gave_up(self, service: str, error: BaseException, item: int) -> None:
        """``item`` is recorded failed for ``error`` from ``service``: should the streak it
        belongs to trip the breaker, :attr:`Trip.items` names it to be re-opened."""
        cause = systemic_cause(error, service, worked=self._worked)
        if self.tripped is None and cause is not None:
            self._streaks.setdefault(service, _Streak()).items.append(item)

    def success(self) -> None:
        """A call went through: every streak starts again."""
        self._streaks.clear()
        self._worked = True
