"""The one owner of retrying: which failures are worth another try, how long to wait first, and
the loop that does it, for every place that retries (HTTP calls, copies, side phases, stores).

The policy is exponential backoff with *full* jitter (the delay is drawn uniformly between zero
and the exponential cap), so that many workers failing at the same moment spread out instead of
retrying in lock-step.  A server's ``Retry-After`` wins over the backoff when it asks for longer.

:meth:`RetryPolicy.delay_for` is the pure decision (unit-tested without sockets or waiting);
:meth:`RetryPolicy.run` is the thin loop around it.  Callers pass what to run and, for their
counters, events or a circuit breaker, an ``on_retry`` hook; sleeping and randomness are
injected so tests never wait (a ``Retry-After`` date is turned into seconds with an injectable
clock where it is parsed, :func:`~transfer.http.error_mapping.parse_retry_after`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

__all__ = ["NO_RETRY", "RetryHook", "RetryPolicy", "Sleep", "is_retryable"]

T = TypeVar("T")

RetryHook = Callable[[int, float, Exception], None]
"""Told before each retry's sleep: (number of the try that failed, seconds until the next try,
the error it failed with)."""
Sleep = Callable[[float], Awaitable[None]]
"""Waits that many seconds (``anyio.sleep``; a recorder in tests)."""

_RNG = random.Random()


def is_retryable(error: BaseException) -> bool:
    """Whether retrying can help, as the error tree classifies ``error``.

    Anything outside the tree (a programming error, a cancellation) is never retried.
    """
    return isinstance(error, Exception) and bool(getattr(error, "retryable", False))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to try, which failures to try again, and how long to wait between tries.

    ``max_attempts`` counts every try, the first included.  The delay before try ``n + 1`` is
    ``uniform(0, min(max_delay, base_delay * 2 ** (n - 1)))``; when the error carries a
    ``retry_after`` (seconds, from the server), the delay is at least that, and never more than
    ``max_retry_after`` — a server asking for an hour gets ``max_retry_after``, and if that still
    is not enough the attempts run out and the item fails (to be retried by a later run).
    ``retry_on`` says which errors are worth another try (default: what the error tree calls
    retryable); a loop with its own notion (a store's deadlocks, a repository not yet visible)
    passes its own.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    retry_on: Callable[[BaseException], bool] = is_retryable
    patience: float = 900.0
    """Seconds of server-requested waits (a retryable error carrying ``Retry-After``: a
    maintenance window, a 503 while the service restarts) that :meth:`run` waits out without
    spending tries, so a service asking for minutes gets them; past it, tries count again."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff_cap(self, attempt: int) -> float:
        """The upper bound of the jittered delay after failed try number ``attempt`` (1-based)."""
        # Cap the exponent: 2 ** 1100 overflows a float long before max_delay matters.
        exponent = min(max(attempt - 1, 0), 64)
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def delay_for(self, attempt: int, error: BaseException, rng: random.Random) -> float | None:
        """Seconds to wait before the next try, or ``None`` to give up and raise ``error``.

        ``attempt`` is the number of the try that just failed (the first try is 1).  ``None``
        when ``error`` is not worth retrying or ``attempt`` already used the last try.
        """
        if attempt >= self.max_attempts or not self.retry_on(error):
            return None
        delay = rng.uniform(0.0, self.backoff_cap(attempt))
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and math.isfinite(retry_after):
            delay = max(delay, float(retry_after))
            delay = min(delay, self.max_retry_after)
        return delay

    def asked_wait(self, error: BaseException) -> float | None:
        """The wait a retryable ``error`` asks for with ``Retry-After`` (at most
        ``max_retry_after``), or ``None`` when it asks for none."""
        retry_after = getattr(error, "retry_after", None)
        if not self.retry_on(error) or not isinstance(retry_after, int | float):
            return None
        if not math.isfinite(retry_after):
            return None
        return min(max(float(retry_after), 0.0), self.max_retry_after)

    async def run(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        on_retry: RetryHook | None = None,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
    ) -> T:
        """Await ``attempt(n)`` for try ``n = 1, 2, ...`` until it returns, and return that.

        A failure carrying ``Retry-After`` is waited out without spending a try while the waits
        stay within ``patience``; a failure that :meth:`delay_for` gives up on is raised as it
        is (the last try's error);
        otherwise ``on_retry`` is told, and the next try starts after the delay.  Only
        :class:`Exception` is caught: a cancellation always goes straight through.
        """
        source = rng if rng is not None else _RNG
        number = spent = 0
        waited = 0.0
        while True:
            number += 1
            spent += 1
            try:
                return await attempt(number)
            except Exception as error:
                asked = self.asked_wait(error)
                delay: float | None
                if asked is not None and waited + asked <= self.patience:
                    delay, spent = asked, spent - 1  # the server asked: a wait, not a try
                    waited += asked
                else:
                    delay = self.delay_for(spent, error, source)
                if delay is None:
                    raise
                if on_retry is not None:
                    on_retry(number, delay, error)
            await sleep(delay)


NO_RETRY = RetryPolicy(max_attempts=1)
"""One try only: for requests that must not be repeated (and for tests)."""
