"""When to retry a failed request, and how long to wait first: a pure decision, no I/O.

The policy is exponential backoff with *full* jitter (the delay is drawn uniformly between zero
and the exponential cap), so that many workers failing at the same moment spread out instead of
retrying in lock-step.  A server's ``Retry-After`` wins over the backoff when it asks for longer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["RetryPolicy", "is_retryable"]


def is_retryable(error: BaseException) -> bool:
    """Whether retrying can help, as the error tree classifies ``error``.

    Anything outside the tree (a programming error, a cancellation) is never retried.
    """
    return isinstance(error, Exception) and bool(getattr(error, "retryable", False))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to try a request and how long to wait between tries.

    ``max_attempts`` counts every try, the first included.  The delay before try ``n + 1`` is
    ``uniform(0, min(max_delay, base_delay * 2 ** (n - 1)))``; when the error carries a
    ``retry_after`` (seconds, from the server), the delay is at least that, and never more than
    ``max_retry_after`` — a server asking for an hour gets ``max_retry_after``, and if that still
    is not enough the attempts run out and the item fails (to be retried by a later run).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

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
        when ``error`` is not retryable or ``attempt`` already used the last try.
        """
        if attempt >= self.max_attempts or not is_retryable(error):
            return None
        delay = rng.uniform(0.0, self.backoff_cap(attempt))
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and math.isfinite(retry_after):
            delay = max(delay, float(retry_after))
            delay = min(delay, self.max_retry_after)
        return delay
