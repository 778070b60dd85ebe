"""Pacing requests to what a server tolerates: an adaptive concurrency limit and rate headers.

:class:`AdaptiveLimiter` is AIMD, as TCP congestion control: each throttle signal (429, 503, an
exhausted rate limit) halves the number of requests allowed in flight, down to one; a run of
successes adds one back, up to the configured maximum.  Throttle signals that arrive together
(every in-flight request of a burst gets its own 429) count once per cool-down period.  The
waiting is :class:`anyio.CapacityLimiter`'s (first come, first served, cancellation-safe): the
AIMD rule only moves its ``total_tokens``.  A free slot is taken without a step round the event
loop (anyio's ``acquire`` takes one: about 7 % of the CPU of a small request here).

Two optional signals make it fit a remote API whose round trips are long (Bintray: 100-300 ms):
with ``latency_tolerance`` the limit grows only while round trips stay within that factor of the
shortest seen in the last minute or two (longer ones mean the server queues our requests, so
more in flight would only wait there; the shortest is forgotten after a while, as BBR's windowed
minimum is, so one lucky early request or a machine that got busier cannot hold the limit down
for the rest of a run), and :meth:`AdaptiveLimiter.on_quota` treats a rate-limit quota running
low as a throttle signal before the server has to refuse anything.

With ``slow_start`` the limit starts as TCP's window does (RFC 5681 §3.1): every success adds a
slot, so it doubles per round of requests, until the first throttle signal or the first sign of
queueing; from then on it grows by one per ``increase_after`` successes.  A run that starts at 8
copies in flight reaches 128 in four round trips instead of ~480 successes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["AdaptiveLimiter", "RateLimitInfo", "int_header"]

FASTEST_WINDOW = 60.0
"""Seconds per window of the shortest round trip: the shortest of this window and the last."""


class AdaptiveLimiter:
    """A concurrency limit that shrinks when the server pushes back and grows when it does not.

    Use ``async with limiter.slot():`` around each request, then call :meth:`on_success` or
    :meth:`on_throttle` with its outcome.  Waiters are served first come, first served.  Do not
    nest slots of one limiter in one task: with a limit of 1 that would wait forever.
    """

    def __init__(
        self,
        max_limit: int,
        *,
        initial: int | None = None,
        decrease_factor: float = 0.5,
        increase_after: int = 10,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        latency_tolerance: float | None = None,
        quota_low: float = 0.1,
        slow_start: bool = False,
    ) -> None:
        if max_limit < 1:
            raise ValueError("max_limit must be at least 1")
        if not 0.0 < decrease_factor < 1.0:
            raise ValueError("decrease_factor must be between 0 and 1")
        if increase_after < 1:
            raise ValueError("increase_after must be at least 1")
        if latency_tolerance is not None and latency_tolerance < 1.0:
            raise ValueError("latency_tolerance must be at least 1")
        self._max = max_limit
        start = max(1, min(max_limit, initial if initial is not None else max_limit))
        self._tokens = anyio.CapacityLimiter(start)
        self._factor = decrease_factor
        self._increase_after = increase_after
        self._cooldown = cooldown
        self._clock = clock
        self._successes = 0
        self._last_decrease: float | None = None
        self._tolerance = latency_tolerance
        self._quota_low = quota_low
        self._fastest: float | None = None  # the shortest of this window and the last
        self._window_fastest: float | None = None  # the shortest of this window alone
        self._window_ends = clock() + FASTEST_WINDOW
        self._smoothed: float | None = None
        self._quota_left: int | None = None
        self._slow_start = slow_start
        self.throttles = 0
        """How many throttle signals lowered the limit (for progress and reports)."""
        self.peak_in_flight = 0
        """The most slots held at once (for progress and reports)."""

    @property
    def limit(self) -> int:
        """How many requests may be in flight right now."""
        return int(self._tokens.total_tokens)

    @property
    def max_limit(self) -> int:
        """The ceiling the limit grows back to."""
        return self._max

    @property
    def in_flight(self) -> int:
        """How many slots are held."""
        return self._tokens.borrowed_tokens

    @property
    def waiting(self) -> int:
        """How many tasks wait for a slot."""
        return self._tokens.statistics().tasks_waiting

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` slots for the duration of the block."""
        # A borrower per slot, not per task: a task may hold slots of several requests.
        borrower = object()
        try:  # a free slot is taken at once: no trip round the event loop per request
            self._tokens.acquire_on_behalf_of_nowait(borrower)
        except anyio.WouldBlock:
            await self._tokens.acquire_on_behalf_of(borrower)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            self._tokens.release_on_behalf_of(borrower)

    @property
    def round_trip(self) -> float | None:
        """The smoothed round trip of the accepted requests, in seconds (when told)."""
        return self._smoothed

    def on_success(self, seconds: float | None = None, *, limited: bool = True) -> None:
        """Record a request the server accepted (in ``seconds``, when known); every
        ``increase_after`` in a row add a slot, unless round trips show the server queueing.
        ``limited=False`` says the limit was not what held the caller back (slots stood idle):
        the round trip still counts, the success does not grow the limit (as TCP grows its
        window only while the window is full, RFC 7661)."""
        if seconds is not None:
            self._observe(seconds)
        if not limited:
            return
        if self._slow_start:
            if self._queueing():
                self._slow_start = False  # the service queues: grow carefully from here
            elif self.limit < self._max:
                self._tokens.total_tokens = self.limit + 1  # wakes the first waiter
            return
        self._successes += 1
        if self._successes >= self._increase_after:
            self._successes = 0
            if self.limit < self._max and not self._queueing():
                self._tokens.total_tokens = self.limit + 1  # wakes the first waiter

    def _observe(self, seconds: float) -> None:
        seconds = max(seconds, 1e-4)
        now = self._clock()
        if now >= self._window_ends:  # a new window: what the one before it saw is forgotten
            self._fastest, self._window_fastest = self._window_fastest, None
            self._window_ends = now + FASTEST_WINDOW
        self._window_fastest = min(seconds, self._window_fastest or seconds)
        self._fastest = min(seconds, self._fastest or seconds)
        # an exponential average over about the last 20 requests
        self._smoothed = (
            seconds if self._smoothed is None else self._smoothed + (seconds - self._smoothed) / 20
        )

    def _queueing(self) -> bool:
        if self._tolerance is None or self._fastest is None or self._smoothed is None:
            return False
        return self._smoothed > self._tolerance * self._fastest

    def on_quota(self, info: RateLimitInfo | None) -> None:
        """Record the quota a response reported; a quota being spent and below ``quota_low``
        of its limit is a throttle signal.  A quota that stays put (Bintray does not count calls
        on the caller's own organisation, yet may report 0 left) is not."""
        if info is None or info.remaining is None:
            return
        previous, self._quota_left = self._quota_left, info.remaining
        fraction = info.fraction_left
        spending = previous is not None and info.remaining < previous
        if spending and fraction is not None and fraction <= self._quota_low:
            self.on_throttle()

    def on_throttle(self) -> None:
        """Record that the server asked us to slow down: multiply the limit by the factor.

        Signals inside the cool-down are the same push-back (a burst's other requests): they
        neither lower the limit again nor restart the run of successes, or a steady trickle of
        refusals (a flaky proxy's 503s) would pin the limit at one for good."""
        self._slow_start = False
        now = self._clock()
        if self._last_decrease is not None and now - self._last_decrease < self._cooldown:
            return
        self._successes = 0
        self._last_decrease = now
        self.throttles += 1
        # Slots already held stay held; nobody new enters until fewer are in flight.
        self._tokens.total_tokens = max(1, int(self.limit * self._factor))


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """The whole number in header ``name`` (its name in any case); ``None`` when absent or not
    a number."""
    if not isinstance(headers, CIMultiDict | CIMultiDictProxy):
        headers = CIMultiDict(headers)  # aiohttp's own headers are looked up as they are
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The API quota a response reports (Bintray's ``X-RateLimit-Limit``/``-Remaining``)."""

    limit: int | None
    remaining: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Parse the rate headers; ``None`` when the response carries neither (or no number)."""
        limit = int_header(headers, "X-RateLimit-Limit")
        remaining = int_header(headers, "X-RateLimit-Remaining")
        if limit is None and remaining is None:
            return None
        return cls(limit=limit, remaining=remaining)

    @property
    def exhausted(self) -> bool:
        """True when no calls are left.  Bintray still serves an org's own resources then."""
        return self.remaining is not None and self.remaining <= 0

    @property
    def fraction_left(self) -> float | None:
        """Remaining over limit (0..1), when both are known and the limit is positive."""
        if self.limit is None or self.remaining is None or self.limit <= 0:
            return None
        return max(0.0, min(1.0, self.remaining / self.limit))
