"""BandwidthLimiter: a shared token bucket, driven by a fake clock and a fake sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
import pytest

from transfer.pipeline.bandwidth import BandwidthLimiter

pytestmark = pytest.mark.anyio


class FakeTime:
    """A clock that only moves when someone sleeps (or the test says so)."""

    def __init__(self, *, advance_on_sleep: bool = True) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.advance_on_sleep = advance_on_sleep

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance_on_sleep:
            self.now += seconds
        await anyio.lowlevel.checkpoint()


async def test_unlimited_never_sleeps() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(None, clock=fake.clock, sleep=fake.sleep)
    assert not limiter.limited
    for _ in range(1000):
        await limiter.consume(10**9)
    assert fake.sleeps == []


async def test_burst_passes_then_the_rate_applies() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(1000.0, clock=fake.clock, sleep=fake.sleep)
    await limiter.consume(1000)  # the bucket starts full: one second's worth
    assert fake.sleeps == []
    await limiter.consume(500)
    assert fake.sleeps == [pytest.approx(0.5)]


async def test_sustained_rate_over_many_chunks() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(1_000_000.0, burst=0.0, clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    for _ in range(50):
        await limiter.consume(100_000)
    assert fake.now - start == pytest.approx(5.0)


async def test_concurrent_consumers_share_one_budget() -> None:
    # Nobody's clock moves: each caller must wait behind the debt of those before it.
    fake = FakeTime(advance_on_sleep=False)
    limiter = BandwidthLimiter(1000.0, burst=0.0, clock=fake.clock, sleep=fake.sleep)
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(limiter.consume, 1000)
    assert sorted(fake.sleeps) == [pytest.approx(s) for s in (1.0, 2.0, 3.0, 4.0)]


async def test_idle_time_refills_only_up_to_the_burst() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(1000.0, burst=2000.0, clock=fake.clock, sleep=fake.sleep)
    fake.now += 3600.0  # an hour idle must not bank an hour of bandwidth
    await limiter.consume(2000)
    assert fake.sleeps == []
    await limiter.consume(1000)
    assert fake.sleeps == [pytest.approx(1.0)]


async def test_chunks_larger_than_the_burst_still_pass() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(100.0, clock=fake.clock, sleep=fake.sleep)
    await limiter.consume(1100)
    assert fake.sleeps == [pytest.approx(10.0)]


async def test_cancelled_consumer_gives_its_bytes_back() -> None:
    fake = FakeTime(advance_on_sleep=False)
    block = True

    async def sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        if block:
            await anyio.sleep_forever()

    limiter = BandwidthLimiter(1000.0, burst=0.0, clock=fake.clock, sleep=sleep)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(limiter.consume, 5000)
            await anyio.lowlevel.checkpoint()
            scope.cancel()
    block = False
    await limiter.consume(1000)  # must not inherit the cancelled caller's 5 s of debt
    assert fake.sleeps == [pytest.approx(5.0), pytest.approx(1.0)]


async def test_throttle_wraps_a_chunk_stream() -> None:
    fake = FakeTime()
    limiter = BandwidthLimiter(1000.0, burst=0.0, clock=fake.clock, sleep=fake.sleep)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 250

    out = [c async for c in limiter.throttle(chunks())]
    assert out == [b"x" * 250] * 3
    assert fake.now - 1000.0 == pytest.approx(0.75)


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        BandwidthLimiter(0)
