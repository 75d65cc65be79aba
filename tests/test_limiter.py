"""RateLimiter: slots spaced 1/rate, shared by concurrent tasks, paused by a 429."""

import anyio
import pytest

from offboard.limiter import MIN_RATE, RateLimiter

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


class WindowServer:
    """A server that accepts `limit` requests in any sliding 1 s window, else says 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.accepted: list[float] = []
        self.refused = 0

    def answer(self, now: float) -> bool:
        recent = [t for t in self.accepted[-self.limit:] if t > now - 1.0]
        if len(recent) >= self.limit:
            self.refused += 1
            return False
        self.accepted.append(now)
        return True


def _simulate(limiter_factory, limit: int, seconds: float) -> tuple[float, float]:
    """Drive a limiter against a WindowServer for `seconds` of virtual time; returns
    (goodput per second, share of requests refused)."""
    clock = FakeClock()
    limiter = limiter_factory(clock)
    server = WindowServer(limit)

    async def go() -> None:
        while clock.now() < seconds:
            await limiter.acquire()
            if server.answer(clock.now()):
                limiter.answered()
            else:
                limiter.throttled(1.0)

    anyio.run(go)
    total = len(server.accepted) + server.refused
    return len(server.accepted) / seconds, server.refused / total


class PlainBackoff(RateLimiter):
    """The baseline the controller must beat: halve on a 429, add 1 request/s each second."""

    def __init__(self, rate: float, clock: FakeClock) -> None:
        super().__init__(rate, clock, adaptive=False)
        self._current = rate
        self._since = 0.0

    def rate(self, now: float) -> float:
        return min(self.ceiling, self._current + (now - self._since))

    def throttled(self, retry_after: float) -> None:
        now = self._clock.now()
        if now >= self._resume_at:
            self._current, self._since = max(0.2, self.rate(now) / 2), now + retry_after
        self.pause(retry_after)


def test_adaptive_rate_finds_an_unknown_limit():
    """Told --rate 5 L against a server allowing L: goodput >= 0.9 L, <= 3% refused, and
    better goodput than plain multiplicative back-off in the same run."""
    for limit in (10, 20, 50):
        ceiling = 5 * limit
        goodput, refused = _simulate(lambda c, r=ceiling: RateLimiter(r, c), limit, 60)
        plain, _ = _simulate(lambda c, r=ceiling: PlainBackoff(r, c), limit, 60)
        assert goodput >= 0.9 * limit, (limit, goodput)
        assert refused <= 0.03, (limit, refused)
        assert goodput > plain, (limit, goodput, plain)


def test_decrease_then_recovery_with_an_injected_clock():
    """A 429 sets the rate to just under what the server accepted; it then climbs back,
    slowly at first, reaching the old limit after PROBE_SECONDS, never above --rate."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock)
    for _ in range(39):  # 39 answers accepted in the last second (a quarter of 60 is 15)
        clock.time += 0.015
        limiter.answered()
    clock.time = 0.7
    limiter.throttled(2.0)
    assert limiter._resume_at == 2.7
    start = 2.7
    assert limiter.rate(start) == pytest.approx(0.97 * 39)
    assert limiter.rate(start + 15) == pytest.approx(39 * (0.97 + 0.03 / 8))
    assert limiter.rate(start + 30) == pytest.approx(39)
    assert limiter.rate(start + 200) == 60  # capped by the ceiling


def test_a_429_after_few_answers_lowers_the_rate_to_what_was_accepted():
    """With only 3 answers accepted in the last second, the rate becomes about 3/s (never
    below MIN_RATE, even with none)."""
    clock = FakeClock()
    limiter = RateLimiter(40, clock)
    for _ in range(3):
        limiter.answered()
    clock.time = 0.5
    limiter.throttled(1.0)
    assert limiter.rate(2.0) == pytest.approx(0.97 * 3)
    clock.time = 10.0
    limiter.throttled(1.0)
    assert limiter.rate(11.0) == MIN_RATE


def test_429s_of_one_burst_count_once():
    """Several 429s answering requests of the same burst lower the rate once."""
    clock = FakeClock()
    limiter = RateLimiter(100, clock)
    _grants(limiter, clock, 50)
    limiter.throttled(1.0)
    first = limiter.rate(100.0)
    limiter.throttled(1.0)
    limiter.throttled(1.0)
    assert limiter.rate(100.0) == first
