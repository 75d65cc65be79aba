"""RateLimiter: slots spaced 1/rate, shared by concurrent tasks, paused by a 429."""

import anyio

from offboard.limiter import RateLimiter

from .helpers import FakeClock


def _grants(limiter: RateLimiter, clock: FakeClock, n: int) -> list[float]:
    times: list[float] = []

    async def go() -> None:
        for _ in range(n):
            await limiter.acquire()
            times.append(round(clock.now(), 9))

    anyio.run(go)
    return times


def test_sequential_requests_are_spaced_by_one_over_rate():
    """At rate 5 the starts are 0.2 s apart: never more than 5 in a 1 s window."""
    clock = FakeClock()
    times = _grants(RateLimiter(5, clock), clock, 11)
    assert times == [round(0.2 * i, 9) for i in range(11)]
    assert max(sum(1 for t in times if s <= t < s + 1) for s in times) == 5


def test_concurrent_waiters_get_distinct_slots():
    """Tasks asking at the same instant are queued one interval apart, in order."""

    class FrozenClock(FakeClock):
        async def sleep(self, seconds: float) -> None:  # time does not move
            self.sleeps.append(seconds)

    clock = FrozenClock()
    limiter = RateLimiter(4, clock)

    async def go() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(limiter.acquire)

    anyio.run(go)
    assert sorted(clock.sleeps) == [0.25, 0.5, 0.75, 1.0]


def test_pause_holds_every_later_request():
    """After pause(2) the next start is 2 s later, and spacing resumes from there."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock)
    _grants(limiter, clock, 1)
    limiter.pause(2.0)
    assert _grants(limiter, clock, 3) == [2.0, 2.1, 2.2]


def test_pause_that_arrives_while_waiting_moves_the_waiter():
    """A waiter whose slot falls inside a new pause waits until the pause ends."""
    clock = FakeClock()
    limiter = RateLimiter(1, clock)
    _grants(limiter, clock, 1)  # t=0, next slot at 1.0

    async def pausing_sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        if len(clock.sleeps) == 1:
            limiter.pause(5.0)  # the 429 arrives while we sleep
        clock.time += seconds

    clock.sleep = pausing_sleep  # type: ignore[method-assign]
    assert _grants(limiter, clock, 1) == [5.0]
