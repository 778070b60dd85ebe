"""The circuit breaker's bookkeeping (pure): which failures are about a service, when it trips,
what resets it, and the line it gives the user."""

from __future__ import annotations

import pytest

from transfer.errors import (
    AuthError,
    ChecksumMismatch,
    NotFoundError,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    TokenExpired,
    TransientError,
    UnreachableError,
)
from transfer.http.breaker import CircuitBreaker, Trip, systemic_cause


@pytest.mark.parametrize(
    ("error", "service", "kind"),
    [
        (UnreachableError("refused"), "target", "unreachable"),
        (AuthError("401", status=401), "source", "credentials"),
        (PermissionDenied("403", status=403), "target", "permission"),
        (NotFoundError("no repo", status=404), "target", "missing"),
        (TransientError("502", status=502), "target", "server"),
        (TransientError("reset", status=0), "source", "unreachable"),
    ],
)
def test_failures_about_the_service(error: Exception, service: str, kind: str) -> None:
    cause = systemic_cause(error, service)
    assert cause is not None
    assert cause.kind == kind


@pytest.mark.parametrize(
    ("error", "service"),
    [
        (NotFoundError("one file", status=404), "source"),  # a missing download is one file
        (RateLimited("slow down", status=429), "target"),
        (ChecksumMismatch("sha1", "a", "b"), "source"),
        (ValueError("not ours"), "target"),
    ],
)
def test_failures_about_one_file(error: Exception, service: str) -> None:
    assert systemic_cause(error, service) is None


def test_trips_after_threshold_in_a_row_from_one_service() -> None:
    trips: list[Trip] = []
    breaker = CircuitBreaker(3, urls={"target": "http://art/artifactory"}, on_trip=trips.append)
    refused = UnreachableError("cannot reach host art:443")
    assert not breaker.failure("target", refused)
    breaker.gave_up("target", refused, 7)
    assert not breaker.failure("source", AuthError("401", status=401))  # another service
    assert not breaker.failure("target", refused)
    assert breaker.failure("target", refused)
    assert len(trips) == 1
    assert breaker.tripped is trips[0]
    assert trips[0].items == (7,)
    line = trips[0].message()
    assert "the target (http://art/artifactory) cannot be reached" in line
    assert "3 times in a row" in line
    assert "check that it is running" in line
    assert breaker.failure("target", ChecksumMismatch("sha1", "a", "b"))  # stays tripped
    assert len(trips) == 1


def test_a_success_or_a_file_failure_resets_or_leaves_the_streak() -> None:
    breaker = CircuitBreaker(2)
    error = TransientError("503", status=503)
    assert not breaker.failure("target", error)
    breaker.success()
    assert not breaker.failure("target", error)
    assert not breaker.failure("target", ChecksumMismatch("sha1", "a", "b"))  # neutral
    assert breaker.failure("target", error)


def test_threshold_zero_never_trips() -> None:
    breaker = CircuitBreaker(0)
    for _ in range(100):
        assert not breaker.failure("target", UnreachableError("refused"))
    assert breaker.tripped is None


def test_an_expired_token_or_a_full_quota_trips_at_once() -> None:
    for error, words in (
        (TokenExpired("401 Token has expired", status=401), "access token has expired"),
        (QuotaExceeded("413 Datastore disk space", status=413), "quota is exhausted"),
    ):
        breaker = CircuitBreaker(10)
        assert breaker.failure("target", error)
        assert breaker.tripped is not None
        assert words in breaker.tripped.message()


def test_credentials_refused_after_they_worked_trip_at_once() -> None:
    breaker = CircuitBreaker(10)
    assert not breaker.failure("target", AuthError("401", status=401))  # maybe a typo: count
    breaker.success()
    assert breaker.failure("target", AuthError("401", status=401))
    assert breaker.tripped is not None
    assert "expired or was revoked" in breaker.tripped.message()


def test_a_maintenance_window_asking_for_patience_does_not_count() -> None:
    breaker = CircuitBreaker(1)
    assert not breaker.failure("target", TransientError("503", status=503, retry_after=30.0))
    assert breaker.failure("target", TransientError("503", status=503))
