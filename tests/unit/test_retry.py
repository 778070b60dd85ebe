"""RetryPolicy: a pure decision, tested with a seeded rng and no sleeping."""

from __future__ import annotations

import asyncio
import random

import pytest

from transfer.errors import (
    AuthError,
    ChecksumMismatch,
    NotFoundError,
    RateLimited,
    RemoteError,
    TlsVerificationError,
    TransientError,
    UnreachableError,
)
from transfer.http.retry import RetryPolicy, is_retryable


def test_full_jitter_draws_from_the_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng, replay = random.Random(7), random.Random(7)
    error = TransientError("boom")
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0)]:
        delay = policy.delay_for(attempt, error, rng)
        assert delay == replay.uniform(0.0, cap)
        assert delay is not None
        assert 0.0 <= delay <= cap


def test_cap_saturates_at_max_delay_and_never_overflows() -> None:
    policy = RetryPolicy(max_attempts=10_000, base_delay=0.5, max_delay=30.0)
    assert policy.backoff_cap(7) == 30.0
    assert policy.backoff_cap(5000) == 30.0
    delay = policy.delay_for(5000, TransientError("x"), random.Random(1))
    assert delay is not None
    assert 0.0 <= delay <= 30.0


def test_jitter_is_full_not_equal() -> None:
    # Full jitter spreads retries over the whole [0, cap]: some land near zero, some near cap.
    policy = RetryPolicy(max_attempts=100, base_delay=1.0, max_delay=8.0)
    rng = random.Random(42)
    delays = [policy.delay_for(4, TransientError("x"), rng) for _ in range(500)]
    values = [d for d in delays if d is not None]
    assert len(values) == 500
    assert min(values) < 0.5
    assert max(values) > 7.5


def test_gives_up_when_attempts_are_exhausted() -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(0)
    error = TransientError("x")
    assert policy.delay_for(1, error, rng) is not None
    assert policy.delay_for(2, error, rng) is not None
    assert policy.delay_for(3, error, rng) is None
    assert RetryPolicy(max_attempts=1).delay_for(1, error, rng) is None


@pytest.mark.parametrize(
    "error",
    [
        AuthError("401", status=401),
        NotFoundError("404", status=404),
        RemoteError("400", status=400),
        TlsVerificationError("bad cert"),
        ValueError("a bug"),
        asyncio.CancelledError(),
        KeyboardInterrupt(),
    ],
)
def test_never_retries_what_the_tree_calls_final(error: BaseException) -> None:
    assert not is_retryable(error)
    assert RetryPolicy().delay_for(1, error, random.Random(0)) is None


@pytest.mark.parametrize(
    "error",
    [
        TransientError("503", status=503),
        RateLimited("429", status=429),
        UnreachableError("refused"),
        ChecksumMismatch("sha1", "a", "b"),
    ],
)
def test_retries_what_the_tree_calls_retryable(error: BaseException) -> None:
    assert is_retryable(error)
    assert RetryPolicy().delay_for(1, error, random.Random(0)) is not None


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, max_retry_after=300.0)
    error = RateLimited("429", status=429, retry_after=7.0)
    assert policy.delay_for(1, error, random.Random(3)) == 7.0


def test_retry_after_smaller_than_backoff_keeps_backoff() -> None:
    policy = RetryPolicy(base_delay=10.0, max_delay=100.0)
    error = RateLimited("429", status=429, retry_after=0.001)
    rng, replay = random.Random(5), random.Random(5)
    expected = max(0.001, replay.uniform(0.0, 40.0))
    assert policy.delay_for(3, error, rng) == expected


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    error = TransientError("503", status=503, retry_after=3600.0)
    assert policy.delay_for(1, error, random.Random(0)) == 60.0


def test_non_finite_retry_after_is_ignored() -> None:
    policy = RetryPolicy(base_delay=0.5)
    error = TransientError("503", status=503, retry_after=float("inf"))
    delay = policy.delay_for(1, error, random.Random(0))
    assert delay is not None
    assert delay <= 0.5


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_retry_after": -5.0}]
)
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
