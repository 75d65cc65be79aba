"""Rate controllers as pure objects: no I/O, no anyio, the time passed in.

Driven by events (`sent(t)`; `on_answer(t, status, retry_after, sent_at)`), a controller
answers one question, `next_start(t)`: when may the next request start. offboard/limiter.py
wraps one for the async client; offboard/rate_sim.py drives them in virtual time against
models of server limiters (benchmarks/rate_sim.py prints the matrix, tests/test_rate_sim.py
asserts it).

`CubicController` is the one the runtime uses today (see its docstring).

`AdaptiveController` is issue 12's candidate, NOT yet used by the runtime: in the simulation
it meets every figure on 164 of 312 cells (today's controller on 136), better on spacing
limiters and on no limit, worse on sliding and fixed windows; see BENCHMARKS.md. How it works:

- Pacing: starts are at least 1 / rate apart and the rate never exceeds --rate, so no
  1-second window holds more than --rate starts (SPACING_SLACK absorbs float rounding).
- Startup, as TCP's slow start: from STARTUP_RATE, each accepted answer adds GROWTH requests/s,
  so the rate doubles about every DOUBLING seconds while answers flow and stops growing when
  they do not. It ends at the first 429.
- An episode: the first 429 for a request sent after the last cut (later ones answer requests
  already in flight). The rate that failed is an upper bound of the limit; what the server
  delivered is the estimate: the count of answers in the last second (what a window limiter
  admits) or, when lower, their spacing (what a spacing limiter, GCRA or a token bucket with
  a small burst, admits). Right after startup's fast ramp a spacing limiter refuses before a
  second of answers can show its rate, so half the failed rate is taken at least.
- Startup's burst does not set the rate for the run: after the cut the rate climbs back to
  MARGIN x the estimate, holds FIRST_HOLD, then probes (doubling a second) above it; a 429
  soon after a cut at or below the cruise means the estimate was too high (a token bucket's
  burst) and cuts again, to at most HALVE of the last restart.
- Cruise and probing: after a climb the rate holds just under the estimate for HOLD seconds
  and at least PROBE_EVERY requests (so a failed probe costs about 1% of requests in 429s),
  then grows PROBE a second to find a raised limit; a failed probe drops back to the rate
  known good (delivered GOOD_SECONDS without a 429) at once. If a probe failed, the new
  estimate is at most halfway between the cruise that held and the rate that failed.
- Pauses: the server's Retry-After pauses everyone in startup, on a repeat, or when refused
  at a rate known good; a probe's own 429 pauses one interval, and the refused request waits
  its Retry-After alone. Refused again right after a failed probe, at the rate dropped back
  to, a window limiter is still full from the probe: everyone waits as asked, the cruise
  returns to where it held, and the next probe waits PROBE_COST x that pause, so probes stay
  cheap. A bad Retry-After gets `checked_retry_after`'s defined behaviour.

Where it falls short (the simulation shows each): a limit that drops to L / 4 and comes back
is found again only at the next probe, which at low rates is tens of seconds away (probing
sooner costs more than 2% of requests in 429s); a token bucket with a burst of 2 L looks
like a higher limit for a few seconds, so at L = 2 its probes cost over 2% in 429s; and with
Retry-After in whole seconds each honoured pause costs a second of sending.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

from .rate_cubic import CubicController  # noqa: F401 (re-exported: today's controller)

STARTUP_RATE = 2.0  # requests/s before anything is known
DOUBLING = 0.1  # seconds per doubling in startup, while answers flow
GROWTH = math.log(2) / DOUBLING  # requests/s added per accepted answer in startup
BETA = 0.9  # after a 429, restart at this share of the estimated limit
HALVE = 0.7  # a 429 soon after the last cut: the estimate was too high, restart at most
# at this share of the last restart
REPEAT_SECONDS = 3.0  # "soon"
MARGIN = 0.97  # cruise this close under the estimated limit
CLIMB = 1.0  # from the restart up to the cruise, the rate grows by this share a second
CLIMB_SECONDS = 1.0  # at most, and the climb takes at least this long
FIRST_HOLD = 0.5  # after startup's estimate (rough): probe soon
HOLD = 3.0  # seconds at the cruise before probing above it, at least
PROBE_EVERY = 100  # and at least this many requests (a failed probe costs about one 429)
PROBE_FIRST = 1.0  # the first probe after startup doubles the rate each second
PROBE = 0.25  # probing: the rate grows by this share a second
RECENT_ANSWERS = 16  # the delivery rate is measured over this many answers (at most 1 s)
MIN_RECENT = 4  # and needs this many
PROBE_COST = 20  # a probe that cost a pause of P s waits at least this x P s for the next
GOOD_SECONDS = 3.0  # a rate delivered this long without a 429 is known to be good
MIN_RATE = 0.2  # never slower than a request every 5 s
NO_HINT_PAUSE = 1.0  # the pause of a 429 without Retry-After
RETRY_AFTER_MAX = 3600.0  # a longer Retry-After is capped (and said so)
SPACING_SLACK = 1e-9  # keeps float rounding from putting --rate + 1 starts in one second


@dataclass(frozen=True)
class Decision:
    """What a 429 did: the pause everyone now waits, and a note for the log ("" if none)."""

    pause: float
    note: str = ""


class AdaptiveController:
    def __init__(self, ceiling: float, adaptive: bool = True) -> None:
        if not ceiling > 0 or math.isinf(ceiling):
            raise ValueError(f"the rate must be a positive number, not {ceiling}")
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.startup = adaptive
        self._rate = min(ceiling, STARTUP_RATE) if adaptive else ceiling
        self._startup_rates: list[tuple[float, float]] = [(-math.inf, self._rate)]
        self._last_start = -math.inf
        self.resume_at = -math.inf
        self._accepted: deque[float] = deque()  # answer times of accepted answers, last 1 s
        self._recent: deque[float] = deque(maxlen=RECENT_ANSWERS)  # the last accepted ones
        self._cut_at = -math.inf  # when the last cut took effect
        self._base = self._rate  # the rate the climb started from
        self._cruise = math.inf  # MARGIN x the estimated limit
        self._hold = HOLD
        self._good = 0.0  # the highest rate delivered GOOD_SECONDS without a 429

    # -- the question -----------------------------------------------------------------------

    def rate(self, now: float) -> float:
        if not self.adaptive:
            return self.ceiling
        if self.startup:
            i = bisect.bisect_right(self._startup_rates, (now, math.inf)) - 1
            return self._startup_rates[max(0, i)][1]
        elapsed = max(0.0, now - self._cut_at)
        base, cruise = self._base, self._cruise
        if base < cruise:
            # At most doubling a second, and over a second at least: a window limiter
            # remembers the last second, so the climb back waits for it to drain.
            reach = max(CLIMB_SECONDS, math.log(cruise / base) / math.log(1 + CLIMB))
            if elapsed < reach:
                return self._bounded(base * (cruise / base) ** (elapsed / reach))
            elapsed -= reach
        probing = elapsed - self._hold
        growth = 1 + (PROBE_FIRST if self._probes <= 1 else PROBE)
        rate = max(base, cruise) * (growth ** probing if probing > 0 else 1.0)
        return self._bounded(rate)

    def _bounded(self, rate: float) -> float:
        return max(MIN_RATE, min(self.ceiling, rate))

    def next_start(self, now: float) -> float:
        gap = 1.0 / self.rate(max(now, self._last_start)) + SPACING_SLACK
        return max(now, self._last_start + gap, self.resume_at)

    # -- events -----------------------------------------------------------------------------

    def sent(self, now: float) -> None:
        self._last_start = now

    def on_answer(self, now: float, status: int | None, retry_after: float | None = None,
                  sent_at: float | None = None) -> Decision | None:
        """An answer (status None: no answer, a network error). A 429 returns its Decision."""
        if status is None:
            return None
        if status != 429:
            self._accepted.append(now)
            self._recent.append(now)
            delivered = self._delivered(now)
            if self.startup:
                self._rate = min(self.ceiling, self._rate + GROWTH)
                self._startup_rates.append((now, self._rate))
            elif now - self._cut_at >= GOOD_SECONDS:
                self._good = max(self._good, min(self.rate(now - 1.0), delivered))
            return None
        return self.throttled(now, retry_after, sent_at)

    def throttled(self, now: float, retry_after: float | None,
                  sent_at: float | None = None) -> Decision:
        wait, note = checked_retry_after(retry_after)
        if sent_at is None:
            sent_at = now
        if not self.adaptive:
            self.pause(now, wait)
            return Decision(wait, note)
        if sent_at < self._cut_at or now < self.resume_at:  # in flight before the cut
            if self._honoured:
                self.pause(now, wait)
            return Decision(max(0.0, self.resume_at - now), note)
        failed = self.rate(sent_at)  # the rate that failed: an upper bound of the limit
        if (self._after_probe and now - self._cut_at < REPEAT_SECONDS
                and failed <= self._base * 1.01):
            # Refused at the good rate right after a failed probe: a window limiter still
            # full from the probe. Wait as asked, at the same rate.
            self._after_probe = False
            self.pause(now, wait)
            self._cut_at = max(now, self.resume_at)
            # That probe cost everyone a pause: probe rarely enough that it stays cheap, and
            # cruise where the rate held before it.
            self._hold = max(self._hold, PROBE_COST * wait)
            self._cruise = max(self._base, min(self._cruise, self._held))
            return Decision(wait, note)
        count = float(self._delivered(now))  # accepted answers in the last second
        if self.startup:
            # The ramp is fast: a window limiter has just shown its count, a spacing limiter
            # refused as soon as the rate passed it, before a second of answers could show
            # it (so at least half the rate that failed).
            delivered = max(count, failed / 2)
        else:
            delivered = count
            recent = [t for t in self._recent if t > now - 1.0]
            if len(recent) >= MIN_RECENT:
                # A window limiter lets a probe through faster than its limit until it is
                # full, and then the count over its second is the limit; a spacing limiter
                # refuses as soon as the rate passes it, and then the spacing is.
                spaced = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)
                delivered = min(max(count, 1.0), spaced)
        estimate = max(MIN_RATE, min(failed, delivered))
        # Failing again soon, at or below the cruise: the estimate was too high.
        repeated = now - self._cut_at < REPEAT_SECONDS and failed <= self._cruise * 1.01
        if repeated:
            estimate = max(MIN_RATE, min(estimate, count))
        elif not self.startup and self._cruise < failed < math.inf:
            # A probe failed: the limit is between the cruise that held and the rate that
            # failed (a window limiter's count overshoots by the probe's own excess).
            estimate = max(MIN_RATE, min(estimate, (self._cruise + failed) / 2))
        # Honour the Retry-After for everyone in startup, on a repeat, or when refused at a
        # rate known to be good; a probe's 429 only drops back under the estimate.
        honoured = self.startup or failed <= self._good * 1.01 or repeated
        base = BETA * estimate
        if repeated:
            base = min(base, HALVE * self._base)
        if self._good and not repeated:
            base = max(base, min(self._good, BETA * failed, BETA * estimate))
        self._held = self._cruise  # the cruise before this episode
        self.startup = False
        self._base = max(MIN_RATE, base)
        self._cruise = max(self._base, MARGIN * estimate)
        if honoured:
            self._good = 0.0
        self._honoured = honoured
        self._after_probe = not honoured
        pause = wait if honoured else min(wait, 1.0 / self._base)
        self.pause(now, pause)
        self._cut_at = max(now, self.resume_at)
        self._recent.clear()  # the delivery rate is measured within one climb
        if self._probes == 0:
            self._hold = FIRST_HOLD
        elif honoured:  # a rough estimate: probe again soon
            self._hold = HOLD
        else:  # a probe just failed: the limit is known, probe rarely
            self._hold = max(HOLD, PROBE_EVERY / self._cruise)
        self._probes += 1
        return Decision(pause, note)

    _probes = 0
    _held = math.inf
    _honoured = True
    _after_probe = False

    def pause(self, now: float, seconds: float) -> None:
        self.resume_at = max(self.resume_at, now + seconds)

    def _delivered(self, now: float) -> int:
        """Accepted answers in the last second."""
        accepted = self._accepted
        while accepted and accepted[0] <= now - 1.0:
            accepted.popleft()
        return len(accepted)


def checked_retry_after(seconds: float | None) -> tuple[float, str]:
    """The pause a 429's hint asks for, made safe: none -> NO_HINT_PAUSE; negative, NaN or
    infinite -> NO_HINT_PAUSE; over RETRY_AFTER_MAX -> capped. Returns (seconds, note)."""
    if seconds is None:
        return NO_HINT_PAUSE, ""
    if seconds != seconds or seconds < 0 or math.isinf(seconds):
        return NO_HINT_PAUSE, f"ignored an unusable Retry-After ({seconds}); waited " \
                              f"{NO_HINT_PAUSE:g} s"
    if seconds > RETRY_AFTER_MAX:
        return RETRY_AFTER_MAX, (f"the API asked to wait {seconds:g} s; capped at "
                                 f"{RETRY_AFTER_MAX:g} s")
    return seconds, ""
