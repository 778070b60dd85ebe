"""RetryPolicy: a pure decision and the loop around it, tested with a seeded rng and a recorded
sleep (no sockets, no waiting)."""

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
from transfer.http.retry import NO_RETRY, RetryPolicy, is_retryable


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


class Recorder:
    """An injected sleep that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Flaky:
    """Fails with the given errors, one per try, then answers ``"ok"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.tries: list[int] = []

    async def __call__(self, attempt: int) -> str:
        self.tries.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.anyio
async def test_run_retries_until_an_answer_and_tells_the_hook() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=8.0)
    first, second = TransientError("503", status=503), UnreachableError("refused")
    call, sleep, seen = Flaky(first, second), Recorder(), []
    rng, replay = random.Random(11), random.Random(11)
    result = await policy.run(call, on_retry=lambda *args: seen.append(args), sleep=sleep, rng=rng)
    assert result == "ok"
    assert call.tries == [1, 2, 3]
    expected = [replay.uniform(0.0, 1.0), replay.uniform(0.0, 2.0)]
    assert sleep.delays == expected
    assert seen == [(1, expected[0], first), (2, expected[1], second)]


@pytest.mark.anyio
async def test_run_raises_the_last_error_when_the_attempts_run_out() -> None:
    errors = [TransientError(f"503 #{n}", status=503) for n in range(1, 4)]
    call, sleep = Flaky(*errors, TransientError("never reached")), Recorder()
    with pytest.raises(TransientError, match="503 #3"):
        await RetryPolicy(max_attempts=3).run(call, sleep=sleep, rng=random.Random(0))
    assert call.tries == [1, 2, 3]
    assert len(sleep.delays) == 2


@pytest.mark.anyio
async def test_run_gives_up_at_once_on_a_final_error() -> None:
    call, sleep, seen = Flaky(AuthError("401", status=401)), Recorder(), []
    with pytest.raises(AuthError):
        await RetryPolicy().run(call, on_retry=lambda *args: seen.append(args), sleep=sleep)
    assert call.tries == [1]
    assert sleep.delays == []
    assert seen == []


@pytest.mark.anyio
async def test_run_never_retries_with_no_retry() -> None:
    call, sleep = Flaky(TransientError("503", status=503)), Recorder()
    with pytest.raises(TransientError):
        await NO_RETRY.run(call, sleep=sleep)
    assert call.tries == [1]


@pytest.mark.anyio
async def test_run_waits_at_least_what_the_server_asks() -> None:
    call, sleep = Flaky(RateLimited("429", status=429, retry_after=7.0)), Recorder()
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert await policy.run(call, sleep=sleep, rng=random.Random(3)) == "ok"
    assert sleep.delays == [7.0]


@pytest.mark.anyio
async def test_run_retries_what_its_own_predicate_names() -> None:
    policy = RetryPolicy(
        max_attempts=5,
        base_delay=0.2,
        retry_on=lambda e: isinstance(e, RemoteError) and e.status == 404,
    )
    missing = [NotFoundError("404", status=404) for _ in range(2)]
    call, sleep = Flaky(*missing), Recorder()
    assert await policy.run(call, sleep=sleep, rng=random.Random(1)) == "ok"
    assert call.tries == [1, 2, 3]
    # what the tree calls retryable is not, for this policy
    with pytest.raises(TransientError):
        await policy.run(Flaky(TransientError("503", status=503)), sleep=sleep)


class Interrupt(BaseException):
    """Stands for a cancellation: not an Exception, never caught by the loop."""


@pytest.mark.anyio
async def test_run_lets_base_exceptions_through() -> None:
    tries = 0

    async def cancelled(attempt: int) -> None:
        nonlocal tries
        tries += 1
        raise Interrupt

    retry_everything = RetryPolicy(retry_on=lambda e: True)
    with pytest.raises(Interrupt):
        await retry_everything.run(cancelled, sleep=Recorder())
    assert tries == 1


@pytest.mark.anyio
async def test_run_waits_out_a_server_asking_for_patience_without_spending_tries() -> None:
    window = [TransientError("503", status=503, retry_after=60.0) for _ in range(5)]
    call, sleep = Flaky(*window), Recorder()
    policy = RetryPolicy(max_attempts=2, patience=300.0)
    assert await policy.run(call, sleep=sleep, rng=random.Random(0)) == "ok"
    assert sleep.delays == [60.0] * 5  # five waits within patience, no try spent


@pytest.mark.anyio
async def test_run_spends_tries_again_once_patience_is_used_up() -> None:
    window = [TransientError(f"503 #{n}", status=503, retry_after=60.0) for n in range(1, 6)]
    call, sleep = Flaky(*window), Recorder()
    with pytest.raises(TransientError, match="503 #4"):
        await RetryPolicy(max_attempts=2, patience=120.0).run(call, sleep=sleep)
    assert call.tries == [1, 2, 3, 4]  # two waits free, then two counted tries
