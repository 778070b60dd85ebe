"""One bandwidth budget shared by every copy worker: a token bucket that may go into debt.

Each :meth:`BandwidthLimiter.consume` takes its bytes at once, going negative if it must, and
then sleeps until the bucket is back to zero.  Concurrent callers therefore queue up behind each
other's debt, so the sum of all workers stays at the configured rate however big the chunks are,
and no lock is needed (nothing awaits between reading and writing the bucket).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import anyio

from transfer.integrity import Buffer

__all__ = ["BandwidthLimiter"]


class BandwidthLimiter:
    """Caps the total bytes per second across all callers.

    ``bytes_per_second=None`` means unlimited and costs nothing.  ``burst`` is how many bytes
    may pass without waiting after an idle spell (default: one second's worth); the bucket
    starts full.  ``clock`` and ``sleep`` are injected so tests run without waiting.
    """

    def __init__(
        self,
        bytes_per_second: float | None,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive (or None for unlimited)")
        self._rate = bytes_per_second
        self._capacity = float(burst if burst is not None else (bytes_per_second or 0.0))
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()

    @property
    def bytes_per_second(self) -> float | None:
        """The configured rate, ``None`` when unlimited."""
        return self._rate

    @property
    def limited(self) -> bool:
        """Whether a rate applies at all (callers may skip :meth:`consume` when not)."""
        return self._rate is not None

    async def consume(self, n: int) -> None:
        """Wait until ``n`` more bytes fit in the budget, then return (the bytes are spent)."""
        rate = self._rate
        if rate is None or n <= 0:
            return
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        self._tokens -= n
        if self._tokens >= 0:
            return
        try:
            await self._sleep(-self._tokens / rate)
        except BaseException:
            # Cancelled before the bytes went out: give them back to the others.
            self._tokens += n
            raise

    async def throttle(self, chunks: AsyncIterable[Buffer]) -> AsyncIterator[Buffer]:
        """Pass ``chunks`` through, spending each chunk's size before handing it on."""
        async for chunk in chunks:
            await self.consume(len(chunk))
            yield chunk
