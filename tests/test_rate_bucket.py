"""The controller behind a token bucket (issue 22): what a found bucket's 429s cost, and a
startup whose 429 left no caller free to ask the trickle's question."""

import pytest

from offboard.rate.control import SHORT_PAUSE, AdaptiveController
from offboard.sandbox.limiters import TokenBucket


def _run_behind(
    bucket: TokenBucket, rate: float, seconds: float
) -> tuple[list[tuple[float, float]], list[float]]:
    """16 callers, each answer 20 ms after its send (the bucket sees it 10 ms in), a 429's
    own retry 1 s later: returns (the 429s' pauses as (send time, pause), accepted sends)."""
    ctl = AdaptiveController(rate, concurrency=16)
    free = [0.0] * 16  # when each caller may ask for its next start
    pauses: list[tuple[float, float]] = []
    accepted: list[float] = []
    t = 0.0
    while t < seconds:
        free.sort()
        t = max(free[0], ctl.next_start(free[0]))
        ctl.sent(t)
        wait = bucket.admit(t + 0.01)
        decision = ctl.on_answer(
            t + 0.02, 200 if wait is None else 429, None if wait is None else 1.0, sent_at=t
        )
        free[0] = t + (0.02 if wait is None else 1.02)
        if wait is None:
            accepted.append(t)
        elif decision is not None:
            pauses.append((t, decision.pause))
    return pauses, accepted


def test_a_found_buckets_429_pauses_no_one_for_the_servers_second():
    """Behind a bucket of 100/s with a burst of 10 (--rate 1000), once the trickle found it a
    429 at the cruise pauses the others SHORT_PAUSE, not the Retry-After's 1 s: a bucket
    refills at its rate, where a window would admit nothing until it rolled (main paused
    everyone 1 s at 8.5 s: 53 then 43 accepted in those seconds, 96 after)."""
    pauses, accepted = _run_behind(TokenBucket(100, 10), 1000, 15.0)
    assert [p for t, p in pauses if t > 1.0] and all(p <= SHORT_PAUSE for t, p in pauses)
    per_second = [sum(1 for t in accepted if s <= t < s + 1) for s in range(2, 15)]
    assert min(per_second) >= 85, per_second


def test_startup_begins_again_when_the_look_ups_left_no_caller_to_ask():
    """Startup's 429 came while only the look-ups were in flight (one page at a time: 8 sent
    in its second, the concurrency 16): no request was free to ask whether its count was a
    window's or a bucket's burst. Once the pause is over the batch is there, so the run
    begins again at the initial window (paced by --rate alone) and asks at that 429, instead
    of cruising under the count (7) and climbing from it at 25% a second; once only."""
    ctl = AdaptiveController(100, concurrency=16)
    now = 0.0
    for _ in range(7):
        now = ctl.next_start(now)
        ctl.sent(now)
        ctl.on_answer(now + 0.01, 200, sent_at=now)
    sent_at = ctl.next_start(now)
    ctl.sent(sent_at)
    ctl.on_answer(sent_at + 0.01, 429, 1.0, sent_at=sent_at)
    late = sent_at + 1.01  # the refused look-up's own retry: the first caller free
    assert ctl.next_start(late) == late
    ctl.sent(late)
    assert ctl.phase == "startup" and ctl.rate(late) == 100
    assert ctl.next_start(late) == pytest.approx(late + 0.01)  # --rate's spacing, no cruise
