"""AdaptiveLimiter (AIMD concurrency) and RateLimitInfo, and the engine's limit of copies in
flight (``copy_limiter``) with which copies measure round trips: decisions only, with a fake
clock, no sockets and no sleeping."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from transfer.checkpoint.base import Outcome
from transfer.http.pacing import FASTEST_WINDOW, AdaptiveLimiter, RateLimitInfo
from transfer.models import ItemState
from transfer.pipeline.engine import COPIES_START, copy_limiter, round_trip_sample

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_halves_the_limit_down_to_one() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(8, cooldown=1.0, clock=clock)
    seen = []
    for _ in range(5):
        limiter.on_throttle()
        seen.append(limiter.limit)
        clock.now += 2.0
    assert seen == [4, 2, 1, 1, 1]


def test_a_burst_of_throttles_counts_once_per_cooldown() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(16, cooldown=1.0, clock=clock)
    for _ in range(10):  # ten in-flight requests all got a 429
        limiter.on_throttle()
    assert limiter.limit == 8
    assert limiter.throttles == 1
    clock.now += 1.5
    limiter.on_throttle()
    assert limiter.limit == 4
    assert limiter.throttles == 2


def test_successes_add_one_slot_per_run_up_to_the_maximum() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, initial=1, increase_after=3, clock=clock)
    assert limiter.limit == 1
    for _ in range(2):
        limiter.on_success()
    assert limiter.limit == 1
    limiter.on_success()
    assert limiter.limit == 2
    for _ in range(30):
        limiter.on_success()
    assert limiter.limit == 4 == limiter.max_limit


def test_a_throttle_resets_the_success_run() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, initial=2, increase_after=3, clock=clock)
    limiter.on_success()
    limiter.on_success()
    limiter.on_throttle()
    assert limiter.limit == 1
    limiter.on_success()
    assert limiter.limit == 1


async def test_slots_bound_concurrency_and_serve_in_order() -> None:
    limiter = AdaptiveLimiter(2)
    release = anyio.Event()
    active = 0
    peak = 0
    order: list[int] = []

    async def worker(n: int) -> None:
        nonlocal active, peak
        async with limiter.slot():
            order.append(n)
            active += 1
            peak = max(peak, active)
            await release.wait()
            active -= 1

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(worker, n)
            await anyio.lowlevel.checkpoint()
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert limiter.in_flight == 2
        assert limiter.waiting == 4
        release.set()
    assert peak == 2
    assert order == list(range(6))
    assert limiter.in_flight == 0


async def test_a_throttle_lowers_concurrency_for_new_requests() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(4, clock=clock)
    gates = [anyio.Event() for _ in range(8)]
    entered: list[int] = []

    async def worker(n: int) -> None:
        async with limiter.slot():
            entered.append(n)
            await gates[n].wait()

    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(worker, n)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert entered == [0, 1, 2, 3]
        limiter.on_throttle()  # limit 4 -> 2: nobody enters until only one is left in flight
        for n in (0, 1):
            gates[n].set()
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert entered == [0, 1, 2, 3]
        gates[2].set()
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert entered == [0, 1, 2, 3, 4]
        assert limiter.in_flight == 2
        for gate in gates:
            gate.set()
    assert limiter.in_flight == 0


async def test_growing_the_limit_wakes_waiters() -> None:
    limiter = AdaptiveLimiter(3, initial=1, increase_after=1)
    hold = anyio.Event()
    entered: list[int] = []

    async def worker(n: int) -> None:
        async with limiter.slot():
            entered.append(n)
            await hold.wait()

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, n)
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        assert entered == [0]
        limiter.on_success()
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        assert entered == [0, 1]
        hold.set()


async def test_a_cancelled_waiter_does_not_leak_its_slot() -> None:
    limiter = AdaptiveLimiter(1)
    hold = anyio.Event()

    async def holder() -> None:
        async with limiter.slot():
            await hold.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            async with limiter.slot():
                pytest.fail("entered a slot that was taken")
        assert limiter.waiting == 0
        hold.set()
    assert limiter.in_flight == 0
    with anyio.fail_after(1):
        async with limiter.slot():
            assert limiter.in_flight == 1


async def test_a_free_slot_is_taken_without_a_trip_round_the_event_loop() -> None:
    # every request passes a slot: a free one must cost no scheduling step (anyio's own
    # acquire yields once, about 7 % of a small request's CPU); waiters still come first
    limiter = AdaptiveLimiter(2)
    others_ran = False

    async def other() -> None:
        nonlocal others_ran
        others_ran = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        async with limiter.slot():
            assert not others_ran
            assert limiter.in_flight == 1
    assert others_ran


async def test_one_task_may_hold_several_slots() -> None:
    # a slot belongs to a request, not to the task sending it
    limiter = AdaptiveLimiter(2)
    with anyio.fail_after(1):
        async with limiter.slot(), limiter.slot():
            assert limiter.in_flight == 2
    assert limiter.in_flight == 0


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_limit"):
        AdaptiveLimiter(0)
    with pytest.raises(ValueError, match="decrease_factor"):
        AdaptiveLimiter(2, decrease_factor=1.0)


def test_rate_limit_headers() -> None:
    info = RateLimitInfo.from_headers({"x-ratelimit-limit": "1440", "X-RateLimit-Remaining": "0"})
    assert info == RateLimitInfo(limit=1440, remaining=0)
    assert info.exhausted
    assert info.fraction_left == 0.0
    half = RateLimitInfo.from_headers({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "150"})
    assert half is not None
    assert not half.exhausted
    assert half.fraction_left == 0.5


def test_rate_limit_headers_absent_or_garbled() -> None:
    assert RateLimitInfo.from_headers({"Content-Type": "application/json"}) is None
    assert RateLimitInfo.from_headers({"X-RateLimit-Limit": "lots"}) is None
    partial = RateLimitInfo.from_headers({"X-RateLimit-Remaining": " 12 "})
    assert partial == RateLimitInfo(limit=None, remaining=12)
    assert partial.fraction_left is None


def test_growth_stops_while_round_trips_show_the_server_queueing() -> None:
    limiter = AdaptiveLimiter(64, initial=4, increase_after=1, latency_tolerance=2.0)
    for _ in range(10):  # long round trips, but steady: more in flight is worth it
        limiter.on_success(0.150)
    assert limiter.limit == 14
    for _ in range(200):  # the same requests now take four times as long: queueing
        limiter.on_success(0.600)
    grown = limiter.limit
    assert limiter.round_trip is not None
    assert limiter.round_trip > 2 * 0.150
    for _ in range(20):
        limiter.on_success(0.600)
    assert limiter.limit == grown  # held, not grown
    for _ in range(200):  # the queue drained
        limiter.on_success(0.150)
    assert limiter.limit > grown


def test_a_lucky_early_round_trip_is_forgotten_after_two_windows() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(64, initial=4, increase_after=1, latency_tolerance=2.0, clock=clock)
    limiter.on_success(0.002)  # one request that never waited anywhere
    for _ in range(50):  # every later one takes 20 ms: ten times that, queueing by that rule
        limiter.on_success(0.020)
    held = limiter.limit
    assert held < 8
    for _ in range(3):  # two minutes of the same 20 ms: that is the service's round trip
        clock.now += FASTEST_WINDOW
        for _ in range(5):
            limiter.on_success(0.020)
    assert limiter.limit > held + 5


def test_refusals_inside_the_cooldown_do_not_restart_the_run_of_successes() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(16, initial=8, increase_after=4, cooldown=1.0, clock=clock)
    limiter.on_throttle()
    assert limiter.limit == 4
    for _ in range(4):  # a steady trickle: a refusal after every three successes
        clock.now += 0.2
        for _ in range(3):
            limiter.on_success()
        limiter.on_throttle()  # within the cool-down of the last decrease: the same push-back
    assert limiter.limit == 7
    assert limiter.throttles == 1


def test_a_quota_being_spent_below_the_low_mark_is_a_throttle() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(32, clock=clock, quota_low=0.1)
    limiter.on_quota(RateLimitInfo(limit=1000, remaining=500))
    limiter.on_quota(RateLimitInfo(limit=1000, remaining=400))
    assert limiter.limit == 32  # plenty left
    limiter.on_quota(RateLimitInfo(limit=1000, remaining=100))
    assert limiter.limit == 16
    clock.now += 2.0
    limiter.on_quota(RateLimitInfo(limit=1000, remaining=90))
    assert limiter.limit == 8
    assert limiter.throttles == 2


def test_a_quota_that_stays_put_is_not_a_throttle() -> None:
    # Bintray reports Remaining 0 yet serves an org's own resources: calls are not counted.
    clock = FakeClock()
    limiter = AdaptiveLimiter(32, clock=clock)
    for _ in range(5):
        limiter.on_quota(RateLimitInfo(limit=1440, remaining=0))
        clock.now += 2.0
    limiter.on_quota(None)
    limiter.on_quota(RateLimitInfo(limit=None, remaining=None))
    assert limiter.limit == 32
    assert limiter.throttles == 0


# --------------------------------------------------------------- copies in flight


def streamed(size: int, attempts: int = 1) -> Outcome:
    return Outcome(ItemState.DONE, how="streamed", bytes_transferred=size, add_attempts=attempts)


def test_starts_at_the_old_default_below_the_ceiling() -> None:
    wide = copy_limiter(128)
    assert (wide.limit, wide.max_limit) == (COPIES_START, 128)
    narrow = copy_limiter(3)
    assert (narrow.limit, narrow.max_limit) == (3, 3)


def test_grows_while_copies_take_only_their_round_trips_up_to_the_ceiling() -> None:
    limiter = copy_limiter(64)
    for _ in range(4 * 100):  # 100 ms per call, three calls per file
        limiter.on_success(0.3)
    assert limiter.limit == 64


def test_stops_growing_once_copies_queue() -> None:
    limiter = copy_limiter(128)
    for _ in range(40):  # slow start: a slot per success
        limiter.on_success(0.3)
    reached = limiter.limit
    assert reached == COPIES_START + 40
    for _ in range(200):  # copies now take 3x their round trips: waiting somewhere
        limiter.on_success(0.9)
    # the smoothed time crosses 2x within 14 samples; in slow start each added a slot
    assert limiter.limit <= reached + 14
    stuck = limiter.limit
    for _ in range(200):
        limiter.on_success(0.9)
    assert limiter.limit == stuck


def test_copies_without_a_time_still_grow_the_limit() -> None:
    limiter = copy_limiter(16)
    for _ in range(4 * 8):  # checksum deploys, large files: successes without a sample
        limiter.on_success(None)
    assert limiter.limit == 16


def test_push_back_halves_once_per_burst() -> None:
    clock = FakeClock()
    limiter = copy_limiter(128, clock=clock)
    for _ in range(56):  # slow start: a slot per success
        limiter.on_success(0.3)
    assert limiter.limit == 64
    for _ in range(30):  # every copy in flight met the same 429
        limiter.on_throttle()
    assert (limiter.limit, limiter.throttles) == (32, 1)
    clock.now += 1.5
    limiter.on_throttle()  # still pushed back a second later
    assert (limiter.limit, limiter.throttles) == (16, 2)


def test_only_small_first_try_streams_measure_round_trips() -> None:
    assert round_trip_sample(streamed(4096), 0.25) == 0.25
    assert round_trip_sample(streamed(1024 * 1024), 0.25) == 0.25
    assert round_trip_sample(streamed(64 * 1024 * 1024), 9.0) is None  # bandwidth
    assert round_trip_sample(streamed(4096, attempts=3), 5.0) is None  # backoff
    deploy = Outcome(ItemState.DONE, how="checksum_deploy", bytes_transferred=0, add_attempts=1)
    assert round_trip_sample(deploy, 0.1) is None  # one round trip, not three
    present = Outcome(ItemState.DONE, how="already_present")
    assert round_trip_sample(present, 0.1) is None


async def test_the_peak_of_copies_in_flight_is_kept() -> None:
    limiter = copy_limiter(8)
    release = anyio.Event()

    async def copy() -> None:
        async with limiter.slot():
            await release.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(copy)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert (limiter.in_flight, limiter.waiting) == (8, 4)
        release.set()
    assert (limiter.in_flight, limiter.peak_in_flight) == (0, 8)


def test_idle_slots_do_not_grow_the_limit() -> None:
    limiter = copy_limiter(64)
    for _ in range(100):  # copies waited for discovery: the limit was not the bottleneck
        limiter.on_success(0.3, limited=False)
    assert limiter.limit == COPIES_START
    for _ in range(4):  # slow start: a slot per success
        limiter.on_success(0.3)
    assert limiter.limit == COPIES_START + 4


def test_slow_start_adds_a_slot_per_success_until_the_first_throttle() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(128, initial=8, increase_after=4, slow_start=True, clock=clock)
    for _ in range(8):  # one round of eight requests: the limit doubles
        limiter.on_success(0.090)
    assert limiter.limit == 16
    for _ in range(16):
        limiter.on_success(0.090)
    assert limiter.limit == 32
    limiter.on_throttle()
    assert limiter.limit == 16
    for _ in range(7):  # after a throttle: one slot per increase_after successes
        limiter.on_success(0.090)
    assert limiter.limit == 17


def test_slow_start_ends_at_the_first_sign_of_queueing() -> None:
    limiter = AdaptiveLimiter(
        128, initial=8, increase_after=4, latency_tolerance=2.0, slow_start=True
    )
    for _ in range(8):
        limiter.on_success(0.090)
    assert limiter.limit == 16
    for _ in range(40):  # round trips four times the fastest: the service queues
        limiter.on_success(0.400)
    held = limiter.limit
    assert held < 40  # slow start ended well before 40 successes would have added 40
    for _ in range(200):  # the queue drained: growth resumes, one slot per four successes
        limiter.on_success(0.090)
    assert held < limiter.limit <= held + 50


def test_slow_start_grows_only_while_the_limit_is_what_holds_requests_back() -> None:
    limiter = AdaptiveLimiter(128, initial=8, slow_start=True)
    for _ in range(50):
        limiter.on_success(0.090, limited=False)
    assert limiter.limit == 8


def test_the_copy_limit_starts_slow_and_grows_fast() -> None:
    limiter = copy_limiter(128)
    rounds = 0
    while limiter.limit < 128:
        for _ in range(limiter.limit):
            limiter.on_success(0.090)
        rounds += 1
    assert rounds == 4  # 8 → 16 → 32 → 64 → 128
