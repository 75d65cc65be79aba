"""The rate controller: finds the server's real limit behind any kind of limiter, as a pure
object (no I/O, no anyio; the time is passed in).

Driven by events (`sent(t)`; `on_answer(t, status, retry_after, sent_at)`), it answers one
question, `next_start(t)`: when may the next request start. offboard/rate/limiter.py wraps it for
the async client; benchmarks/rate_model.py drives it in virtual time against models of server
limiters (offboard/sandbox/limiters.py), and tests/test_rate_sim.py holds it to issue 12's
figures on every cell of the matrix.

Why it works for every shape of server limiter, and where it falls short, is told in the
rate package's docstring (rate/__init__.py); the pause a 429 asks for is rate/pause.py's.
"""

from __future__ import annotations

import math
from collections import deque

from .evidence import Evidence
from .pair import PairTest
from .pause import Decision, checked_retry_after
from .recovery import Recovery
from .startup import (
    BETA,
    BUCKET_PROBE,
    FIRST_HOLD,
    FIRST_PROBE,
    MARGIN,
    MIN_RATE,
    STARTUP_RATE,
    Startup,
)
from .trickle import Trickle

# MIN_RATE and STARTUP_RATE live in rate/startup.py; the limiter and the tests take them here.
__all__ = ["MIN_RATE", "SHORT_PAUSE", "STARTUP_RATE", "AdaptiveController"]

CLIMB = 1.0  # seconds from the restart up to the cruise
HOLD = 20.0  # seconds at the cruise before probing above it
PROBE = 0.1  # probing grows the rate by this share a second
BURST_SEEN = 1.25  # its 429 at a count this much above startup's: startup saw a burst
SHORT_PAUSE = 0.1  # a probe's 429 pauses the others this long, not the server's wait
REPEAT = 1.5  # seconds: a 429 this soon after another is part of the same episode
CREDIT_PER_ANSWER = 0.01  # a probe may start once accepted answers paid for one 429
CREDIT0 = 1.0
RISE_SECONDS = 4.0  # a window's limit rose if this long accepted more than
RISE = 1.3  # this share of it a second
RECOVER_CLIMB = 0.5  # seconds from the cruise back up to what held
SPACING_SLACK = 1e-9  # keeps float rounding from putting --rate + 1 starts in one second
STEADY_HELD = 2.0  # seconds (Evidence's STEADY): the least a steady rate held


class AdaptiveController(Startup):
    def __init__(self, ceiling: float, adaptive: bool = True, concurrency: int = 0) -> None:
        """`concurrency`: the most requests the caller has in flight (0: unknown). Before
        the first 429 that, paced by `ceiling` alone, is the run's initial window."""
        if not ceiling > 0 or math.isinf(ceiling):
            raise ValueError(f"the rate must be a positive number, not {ceiling}")
        self.ceiling = ceiling
        self.concurrency = concurrency
        # "pair" (the pair test and startup), "startup", then "run"; "fixed": not adaptive.
        self.phase = "fixed" if not adaptive else "pair" if ceiling >= 2 else "startup"
        self.kind = "" if self.phase == "pair" else "window"  # or "spacing", from the pair
        self.resume_at = -math.inf  # no start before this (a pause)
        self.trace: list[str] | None = None  # a list: decisions are logged into it
        self._seen = Evidence()
        # The initial window: nothing has shown a limit, so only --rate paces the start (and
        # the caller's concurrency bounds what is in flight), as TCP begins with a window.
        self._startup_rate = ceiling
        self._last_start = -math.inf
        # the last --rate starts (at least one): no second may hold more
        self._window: deque[float] = deque(maxlen=max(1, math.floor(ceiling)))
        self._rtt = math.inf  # the shortest round trip seen
        self._cut_at = -math.inf  # answers to requests sent before this are echoes
        self._last_refusal = -math.inf
        self._credit = CREDIT0
        self._pair = PairTest()
        # The plan: from `base` at t0 climb to `cruise` over `climb` s, hold, then probe.
        self._t0, self._base, self._cruise, self._climb = 0.0, 0.0, 0.0, 0.0
        self._probe_at = math.inf
        self._probe_growth = PROBE
        self._least_count = math.inf  # windows: the least count a 429 showed
        self._lo, self._hi = MIN_RATE, math.inf  # spacing: the limit is in [lo, hi)
        self._target_since, self._target_ok, self._step = 0.0, 0, 1.0
        self._recovery = Recovery(MARGIN)
        self._trickle = Trickle()  # after startup's 429: a bucket, or a window?
        self._burst = 0.0  # a bucket the trickle found: its burst, at most startup's count
        self._restarted = False  # startup began again once: its question found no caller
        self._pair_count = 0  # a window of this count may have refused the first pair too

    # -- the question -----------------------------------------------------------------------

    def rate(self, now: float) -> float:
        if self.phase == "fixed":
            return self.ceiling
        if self.phase != "run":
            return self._startup_rate
        if self._recovery.left:
            return self._bounded(self._recovery.held)
        base, cruise = self._base, self._cruise
        u = (now - self._t0) / self._climb if self._climb else 1.0
        if u < 1:  # a concave climb: fast at first, gentle near the cruise
            return self._bounded(base if u <= 0 else cruise - (cruise - base) * (1 - u) ** 2)
        if now >= self._probe_at:
            return self._bounded(cruise * (1 + self._probe_growth) ** (now - self._probe_at))
        return self._bounded(cruise)

    def _sending(self, now: float) -> float:
        """The rate requests really leave at: in the initial window, --rate or what the
        concurrency allows per round trip, whichever is lower."""
        rate = self.rate(now)
        if self.phase != "run" and self.concurrency and self._rtt < math.inf:
            return min(rate, self.concurrency / self._rtt)
        return rate

    def _bounded(self, rate: float) -> float:
        return max(MIN_RATE, min(self.ceiling, rate))

    def next_start(self, now: float) -> float:
        start = max(now, self.resume_at)
        if len(self._window) == self._window.maxlen:  # --rate starts in the last second
            start = max(start, self._window[0] + 1.0 + SPACING_SLACK)
        if self.phase == "pair":
            if self._pair.sending:
                return start
            start = max(start, self._pair.held_until(now))
        gap = 1.0 / self.rate(max(now, self._last_start)) + SPACING_SLACK
        return max(start, self._last_start + gap)

    # -- events -----------------------------------------------------------------------------

    def sent(self, now: float, turn: float | None = None) -> None:
        """A request started at `now`. `turn`: the start it had waited for, when it woke a
        little late (asyncio rounds its waits up to the millisecond): the next gap is then
        measured from its turn, so lateness does not add up into a lower rate (1 ms a gap
        cost 9% at 100/s). The window of the last --rate actual starts keeps every second
        at --rate or fewer whatever the lateness. Not behind a spacing limiter: a late
        start's next, sent sooner, meets GCRA's 5 ms tolerance (429s at 17/s on a busy
        machine, behind 20/s), where a late gap costs only its lateness."""
        on_turn = turn is not None and turn <= now and self.kind != "spacing"
        self._last_start = turn if on_turn and turn is not None else now
        self._window.append(now)
        if self._trickle.due:
            self._trickle_sent(now)
        if self.phase == "pair" and self._pair.sent(now, self.concurrency):
            # the pair took two slots: pace the next after both
            self._last_start = max(now, self._pair.sends[0] + 1.0 / self.ceiling)
        self._recovery.sent(now, self._cruise, self.phase == "run")
        self._seen.sent(now, self._sending(now))

    def on_answer(
        self,
        now: float,
        status: int | None,
        retry_after: float | None = None,
        sent_at: float | None = None,
    ) -> Decision | None:
        """An answer to the request sent at `sent_at` (status None: none came, a network
        error). A 429 returns its Decision."""
        sent_at = now if sent_at is None else sent_at
        if self._trickle.is_answer(sent_at):
            accepted = status is not None and status != 429
            self._seen.answered(sent_at, accepted, now)
            return self._trickled(now, accepted)
        if status is None or self.phase == "fixed":
            return self.pause_for(now, retry_after) if status == 429 else None
        accepted = status != 429
        self._seen.answered(sent_at, accepted, now)
        if self.phase == "pair":
            wait = checked_retry_after(retry_after)[0]
            asked = self._pair.answered_question(now, sent_at, accepted, wait)
            verdict = asked or self._pair.answered(now, sent_at, accepted, wait)
            if verdict:
                self._pair_tested(now, verdict, bool(asked))
        taken = self._recovery.answered(now, sent_at, accepted, self._cruise)
        if taken is not None:
            self._log(
                f"{now:.3f} pulse {'taken' if taken else 'refused'} at {self._recovery.held:.2f}/s"
            )
        if taken:  # the limit rose: climb back to what held, and measure again
            self._least_count, self._lo, self._hi = math.inf, self._cruise, math.inf
            self._step = 1.0
            self._plan(now, self._cruise, self._recovery.held, climb=RECOVER_CLIMB)
        if not accepted:
            self._credit -= 1  # every 429 is paid from the probing credit
            if self._recovery.refused_by_pulse(sent_at):
                # A pulse overfilled a window for a second: nothing new about the limit.
                return Decision(0.0, checked_retry_after(retry_after)[1])
            return self._refused(now, retry_after, sent_at)
        self._credit += CREDIT_PER_ANSWER
        self._rtt = min(self._rtt, max(now - sent_at, 1e-3))
        if self.phase != "run":
            self._slow_start()
            return None
        self._steady(now, sent_at)
        if self.kind == "spacing":
            self._spaced_answer(now, sent_at)
        if self._probe_at == math.inf and self._credit >= 1:
            self._probe_at = max(now, self._t0 + self._climb) + HOLD
        return None

    def pause_for(self, now: float, retry_after: float | None) -> Decision:
        """A 429 at a fixed rate: everyone waits what the server asked."""
        wait, note = checked_retry_after(retry_after)
        self.pause(now, wait)
        return Decision(wait, note)

    def pause(self, now: float, seconds: float) -> None:
        self.resume_at = max(self.resume_at, now + seconds)

    # -- what a 429 says --------------------------------------------------------------------

    def _refused(self, now: float, retry_after: float | None, sent_at: float) -> Decision:
        wait, note = checked_retry_after(retry_after)
        if not self.kind and self._pair.refused_outright():
            # The pair refused before anything was learnt (the key was busy already):
            # wait as asked, then start over.
            self._pair.restart()
            self._startup_rate = min(self.ceiling, STARTUP_RATE)
            return self._cut(now, wait, note)
        if sent_at < self._cut_at or sent_at in self._pair:
            return Decision(0.0, note)  # sent before the last cut: it waits alone
        hi = self._seen.rate_at(sent_at, self._startup_rate)
        self._log(
            f"{now:.3f} 429 {self.phase} {self.kind} at {hi:.2f}/s, "
            f"{self._seen.last_second(sent_at)} in the last second"
        )
        if self.phase != "run":
            self.kind = self.kind or "window"
            return self._startup_ended(now, hi, sent_at, wait, note)
        if self.kind == "spacing":
            decision = self._cut(now, min(wait, 1.5 / max(hi, MIN_RATE)), note)
            if not self._jittered(now, sent_at, hi):  # a bunched arrival moves no bound
                self._spaced_refusal(hi)
                self._search(self._cut_at)
            return decision
        boundary = None
        if self._seen.steady(sent_at, hi):
            count = BETA * hi  # a bucket whose burst ran out, or a lower limit
            if self._burst:
                # A bucket the trickle found, its burst at most startup's count: held T s at
                # hi, it drained at most that burst, so its rate is at least hi - burst / T.
                held = sent_at - max(self._t0 + self._climb, self._last_refusal)
                count = max(count, hi - self._burst / max(held, STEADY_HELD))
        else:
            count, boundary = self._seen.window_limit(sent_at, hi, BETA * hi)
        checking = self._probe_growth in (FIRST_PROBE, BUCKET_PROBE)
        climbed = self._probe_growth == BUCKET_PROBE  # a bucket's climb from startup's count
        if checking and (self._burst or count > BURST_SEEN * self._least_count):
            # The check after startup found far more room than startup's 429 showed: a
            # bucket, whose first 429 showed its burst; this count is the one to keep.
            self._least_count = math.inf
        if count < 1 and self._least_count < math.inf:
            # None of ours held in the second before it: the limit is below one a second, or
            # the 429 is not about our rate (another client's share, a proxy). Either way no
            # count was measured: halve, as often as it repeats, rather than jump to the floor.
            count = self._least_count / 2
        self._least_count = min(self._least_count, max(count, MIN_RATE))
        repeated, self._last_refusal = now - self._last_refusal < REPEAT, now
        pause = wait
        if hi > self._cruise * 1.01 or self._burst:
            # A probe: back under at once. So for a bucket the trickle found, which refills
            # at its rate: the server's second (a window's roll) would idle it for nothing.
            pause = min(wait, SHORT_PAUSE)
        if repeated:  # still full: wait as asked, or for the fixed window's next boundary
            pause = wait if boundary is None else min(wait, max(0.0, boundary - now))
        decision = self._cut(now, pause, note)
        self._plan(self._cut_at, min(BETA * self._least_count, hi), MARGIN * self._least_count)
        if climbed and hi > self._cruise * 1.01:
            # A bucket's climb ends where its burst ran out, the last second's count part
            # climb: check once more, as after startup, that there is no more room.
            self._probe_at = self._t0 + self._climb + FIRST_HOLD
            self._probe_growth = FIRST_PROBE
        return decision

    def _cut(self, now: float, pause: float, note: str) -> Decision:
        self.pause(now, pause)
        self._cut_at = max(now, self.resume_at)
        return Decision(pause, note)

    def _plan(self, t0: float, base: float, cruise: float, climb: float = CLIMB) -> None:
        was_low = self._recovery.low(self._cruise)
        self._t0, self._base, self._cruise = t0, max(MIN_RATE, base), max(MIN_RATE, cruise)
        self._climb = climb
        self._recovery.planned(t0, was_low, self._recovery.low(self._cruise))
        self._probe_at = t0 + climb + HOLD if self._credit >= 1 else math.inf
        self._probe_growth = PROBE

    # -- a lower limit, and its return ------------------------------------------------------

    def _steady(self, now: float, sent_at: float) -> None:
        """Remember a cruise that held; notice a window limit that rose."""
        self._recovery.held_for(self._cruise, now - max(self._t0 + self._climb, self._last_refusal))
        # Over RISE_SECONDS even a fixed window (which lets up to twice its limit into one
        # second across a boundary) accepts at most (1 + 1 / RISE_SECONDS) x its limit.
        if (
            self._seen.accepted(sent_at - RISE_SECONDS, sent_at)
            > RISE_SECONDS * RISE * self._least_count
        ):
            self._least_count = math.inf
