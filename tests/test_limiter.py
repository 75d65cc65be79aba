"""RateLimiter: slots spaced 1/rate, shared by concurrent tasks, paused by a 429."""

import os
import subprocess
import sys

import anyio
import pytest

from offboard.limiter import MIN_RATE, RateLimiter
from offboard.rate_control import (
    NO_HINT_PAUSE,
    RETRY_AFTER_MAX,
    STARTUP_RATE,
    AdaptiveController,
    CubicController,
    checked_retry_after,
)
from offboard.retry import retry_after

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


class PlainBackoff(CubicController):
    """The baseline the controller must beat: halve on a 429, add 1 request/s each second."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate, adaptive=False)
        self._current = rate
        self._since = 0.0

    def rate(self, now: float) -> float:
        return min(self.ceiling, self._current + (now - self._since))

    def throttled(self, now: float, retry_after: float) -> None:
        if now >= self.resume_at:
            self._current, self._since = max(0.2, self.rate(now) / 2), now + retry_after
        self.pause(now, retry_after)


def test_adaptive_rate_finds_an_unknown_limit():
    """Told --rate 5 L against a server allowing L: goodput >= 0.9 L, <= 3% refused, and
    better goodput than plain multiplicative back-off in the same run."""
    for limit in (10, 20, 50):
        ceiling = 5 * limit
        goodput, refused = _simulate(lambda c, r=ceiling: RateLimiter(r, c), limit, 60)
        plain, _ = _simulate(lambda c, r=ceiling: RateLimiter(r, c, controller=PlainBackoff(r)),
                             limit, 60)
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


# -- the pure controllers (offboard/rate_control.py) and bad input ---------------------------

def test_the_wrapper_drives_a_pure_controller_with_the_clock_value():
    """RateLimiter only passes the injected clock's time on: the controller sees t = 3.5."""
    clock = FakeClock()
    clock.time = 3.5
    limiter = RateLimiter(10, clock)
    limiter.throttled(2.0)
    assert limiter.controller.resume_at == limiter._resume_at == 5.5


def test_adaptive_controller_starts_slow_and_doubles_while_answers_flow():
    """Slow start: 2 requests/s at first, GROWTH more per accepted answer, never above
    --rate; a network error (status None) changes nothing."""
    ctl = AdaptiveController(50)
    assert ctl.rate(0.0) == STARTUP_RATE
    ctl.sent(0.0)
    assert ctl.next_start(0.0) == pytest.approx(1 / STARTUP_RATE)
    ctl.on_answer(0.1, None, sent_at=0.0)
    assert ctl.rate(0.1) == STARTUP_RATE
    for i in range(10):
        ctl.on_answer(0.1 + i / 100, 200, sent_at=0.0)
    assert ctl.rate(1.0) == 50  # capped by --rate


def test_adaptive_controller_never_starts_more_than_rate_in_a_second():
    """Whatever the answers, starts are at least 1 / --rate apart (float rounding included)."""
    ctl = AdaptiveController(100)
    starts: list[float] = []
    now = 0.0
    for _ in range(1000):
        now = ctl.next_start(now)
        ctl.sent(now)
        starts.append(now)
        ctl.on_answer(now, 200, sent_at=now)
    assert max(sum(1 for t in starts if s <= t < s + 1) for s in starts) <= 100


def test_adaptive_controller_429_pauses_everyone_and_counts_one_episode():
    """The first 429 of a burst cuts the rate and pauses for its Retry-After; answers to
    requests sent before the cut extend the pause but do not cut again."""
    ctl = AdaptiveController(100)
    for i in range(30):
        ctl.sent(i / 30)
        ctl.on_answer(i / 30 + 0.01, 200, sent_at=i / 30)
    decision = ctl.on_answer(1.0, 429, 2.0, sent_at=0.99)
    assert decision is not None and decision.pause == 2.0 and decision.note == ""
    assert ctl.next_start(1.0) == 3.0
    cut = ctl.rate(3.0)
    assert cut < 100
    ctl.on_answer(1.05, 429, 2.0, sent_at=0.995)  # same burst
    assert ctl.rate(3.0) == cut and ctl.resume_at == pytest.approx(3.05)


def test_adaptive_controller_not_adaptive_keeps_the_rate():
    ctl = AdaptiveController(7, adaptive=False)
    ctl.on_answer(0.0, 429, 1.0, sent_at=0.0)
    assert ctl.rate(5.0) == 7 and ctl.resume_at == 1.0


@pytest.mark.parametrize(("given", "pause", "note"), [
    (None, NO_HINT_PAUSE, ""),
    (0.0, 0.0, ""),
    (2.5, 2.5, ""),
    (-3.0, NO_HINT_PAUSE, "ignored an unusable Retry-After (-3.0)"),
    (float("nan"), NO_HINT_PAUSE, "ignored an unusable Retry-After (nan)"),
    (float("inf"), NO_HINT_PAUSE, "ignored an unusable Retry-After (inf)"),
    (7200.0, RETRY_AFTER_MAX, "the API asked to wait 7200 s; capped at 3600 s"),
])
def test_bad_retry_after_has_defined_behaviour(given, pause, note):
    """None -> 1 s; negative, NaN, infinite -> 1 s with a note; over an hour -> an hour,
    with a note the caller can log."""
    got_pause, got_note = checked_retry_after(given)
    assert got_pause == pause
    assert got_note.startswith(note) if note else got_note == ""
    ctl = AdaptiveController(10)
    decision = ctl.throttled(0.0, given, sent_at=0.0)
    assert decision.pause == pause and decision.note == got_note


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "-5"}, None),  # negative: no hint (the caller then waits 1 s)
    ({"retry-after": "soon"}, None),  # garbage
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: now
    ({"retry-after-ms": "-1", "retry-after": "2"}, 2.0),  # a bad ms hint falls back
    ({"retry-after-ms": "abc"}, None),
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after": "7200"}, 7200.0),  # api.py fails the row past RETRY_AFTER_CAP, saying so
])
def test_retry_after_header_parsing_of_bad_values(headers, seconds):
    assert retry_after(headers) == seconds


@pytest.mark.parametrize(("value", "message"), [
    ("0", "--rate: must be greater than 0, found 0.0"),
    ("-1", "--rate: must be greater than 0, found -1.0"),
    ("nan", "--rate: must be greater than 0, found nan"),
    ("abc", "Invalid value for '--rate': 'abc' is not a valid float"),
])
def test_bad_rate_is_refused_before_anything_is_sent(value, message, tmp_path):
    """--rate 0, negative, NaN or not a number: exit 2 naming --rate, nothing sent (the
    base URL is a closed port)."""
    rows = tmp_path / "rows.csv"
    rows.write_text("account,user,ticket\n10,300,T-1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    env["GCORE_API_KEY"] = "42_s3cr3tvalue"
    done = subprocess.run(
        [sys.executable, "-m", "offboard", "run", str(rows), f"--rate={value}",
         "--base-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
