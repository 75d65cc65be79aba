"""Experimental v2 controller (see rate_control.py for the interface)."""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

STARTUP_RATE = 2.0
DOUBLING = 0.1
GROWTH = math.log(2) / DOUBLING  # requests/s added per accepted answer in startup, at most
STARTUP_STEP = 1.0  # and at most this share of the rate per answer (at low rates)
BETA = 0.9
MARGIN = 0.97
CLIMB = 1.0  # seconds of a climb from the restart to the cruise
HOLD = 20.0  # seconds at the cruise before a probe, at least
PROBE = 0.1  # probing grows the rate by this share a second
SHORT_PAUSE = 0.1  # a window's 429 at a probe: the others wait this long, not the hint
MEMORY = 1.5
CREDIT_PER_ANSWER = 0.01  # probes are paid for by accepted answers
CREDIT0 = 2.0
HISTORY = 30.0
TIGHT = 0.05  # spacing: search until hi / lo is this close to 1
SMALL_STEP = 0.05
PROVE_REQUESTS = 6  # a rate holds once this many requests at it were accepted
PROVE_SECONDS = 3.0  # or for this long
FLAT_SECONDS = 2.0
PHASES = 20  # alignments of a fixed window tried
WINDOWS_SEEN = 4  # whole windows before a 429 that must agree
HELD_SECONDS = 5.0  # a cruise this long without a 429 is one the key can have
RECOVER_BELOW = 0.7  # cruising under this share of it: look for its return
RECOVER_EVERY = 2.0  # with a pulse this often
RECOVER_CLIMB = 0.5  # seconds from the cruise back to what held
RECOVER_FOR = 30.0  # for this long after the drop
RECOVER_SLOW = 10.0  # then this often
MIN_RATE = 0.2
NO_HINT_PAUSE = 1.0
RETRY_AFTER_MAX = 3600.0
SPACING_SLACK = 1e-9


@dataclass(frozen=True)
class Decision:
    pause: float
    note: str = ""


class AdaptiveController:
    def __init__(self, ceiling: float, adaptive: bool = True) -> None:
        if not ceiling > 0 or math.isinf(ceiling):
            raise ValueError(f"the rate must be a positive number, not {ceiling}")
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.phase = "pair" if adaptive else "fixed"
        self.kind: str | None = None  # "spacing" or "window", from the pair test
        self.resume_at = -math.inf
        self.trace: list[str] | None = None
        self._startup_rate = min(ceiling, STARTUP_RATE)
        self._last_start = -math.inf
        self._sends: deque[tuple[float, float]] = deque()  # (start, rate), last HISTORY s
        self._ok: list[float] = []  # send times of accepted requests, sorted
        self._refused: list[float] = []  # send times of refused requests, sorted
        self._cut_at = -math.inf  # requests sent before this answer for an older rate
        self._last_refusal = -math.inf
        self._quiet = 0.0  # how long nothing was sent before the last cut took effect
        self._rtt = math.inf  # the shortest round trip seen
        self._held = 0.0  # the highest cruise that held HELD_SECONDS
        self._dropped_at, self._pulse_at = -math.inf, math.inf
        self._pulse: list[float] = []  # send times of the pulse under way
        self._pulse_left = 0  # its requests still to send
        self._pulse_began = -math.inf
        self._credit = CREDIT0
        # The pair test after startup: two requests back to back.
        self._pair: list[float] = []
        self._pair_answers: list[bool] = []
        # The plan: from `base` at t0, climb to `cruise` over `climb` s; hold; probe.
        self._t0, self._base, self._cruise, self._climb = 0.0, 0.0, 0.0, 0.0
        self._probe_at = math.inf
        # Windows: the least count a 429 has shown since the limit last rose.
        self._least_count = math.inf
        # Spacing: the limit is in [lo, hi); a target holds once PROVE'd.
        self._lo, self._hi = MIN_RATE, math.inf
        self._target, self._target_since, self._target_ok = 0.0, 0.0, 0
        self._step = 1.0

    # -- the question -----------------------------------------------------------------------

    def rate(self, now: float) -> float:
        if self.phase == "fixed":
            return self.ceiling
        if self.phase in ("startup", "pair"):
            return self._startup_rate
        if self._pulse_left:
            return self._bounded(self._held)
        return self._bounded(self._planned(now))

    def _planned(self, now: float) -> float:
        base, cruise = self._base, self._cruise
        u = (now - self._t0) / self._climb if self._climb else 1.0
        if u < 1:
            return base if u <= 0 else cruise - (cruise - base) * (1 - u) ** 2
        if now >= self._probe_at:
            return cruise * (1 + PROBE) ** (now - self._probe_at)
        return cruise

    def _bounded(self, rate: float) -> float:
        return max(MIN_RATE, min(self.ceiling, rate))

    def next_start(self, now: float) -> float:
        start = max(now, self.resume_at)
        if self.phase == "pair" and len(self._pair) < 2:
            return start  # the pair goes back to back
        gap = 1.0 / self.rate(max(now, self._last_start)) + SPACING_SLACK
        return max(start, self._last_start + gap)

    # -- events -----------------------------------------------------------------------------

    def sent(self, now: float) -> None:
        self._last_start = now
        if self.phase == "pair" and len(self._pair) < 2:
            self._pair.append(now)
            if len(self._pair) == 2:
                # The pair took two of --rate's slots: the next start is paced after both.
                self._last_start = max(now, self._pair[0] + 1.0 / self.ceiling)
        if not self._pulse_left and now >= self._pulse_at and self._low():
            self._pulse_left, self._pulse = self._pulse_size(), []
            self._pulse_began = now
            self._pulse_at = math.inf  # the verdict sets the next
        if self._pulse_left:
            self._pulse.append(now)
            self._pulse_left -= 1
        self._sends.append((now, self.rate(now)))
        while self._sends[0][0] < now - HISTORY:
            self._sends.popleft()

    def on_answer(self, now: float, status: int | None, retry_after: float | None = None,
                  sent_at: float | None = None) -> Decision | None:
        if status is None:
            return None
        if sent_at is None:
            sent_at = now
        if self.phase == "pair" and sent_at in self._pair and len(self._pair_answers) < 2:
            self._pair_answers.append(status != 429)
            if len(self._pair_answers) == 2:
                self._end_pair(now)
        if self._pulse and sent_at >= self._pulse_end():
            self._pulse_answered(now, sent_at, True)  # all of it taken
        elif self._in_pulse(sent_at):
            self._pulse_answered(now, sent_at, status != 429)
            if status == 429:
                _remember(self._refused, sent_at, now)
                self._credit -= 1
                return Decision(0.0, checked_retry_after(retry_after)[1])
        if status == 429:
            _remember(self._refused, sent_at, now)
            if self._pulse_began <= sent_at < self._pulse_began + 1.0:
                # The pulse's second: the pulse overfilled a window; nothing to learn.
                self._credit -= 1
                return Decision(0.0, checked_retry_after(retry_after)[1])
            return self.throttled(now, retry_after, sent_at)
        _remember(self._ok, sent_at, now)
        if self.phase == "run":
            self._steady(now, sent_at)
        self._credit += CREDIT_PER_ANSWER
        self._rtt = min(self._rtt, max(now - sent_at, 1e-3))
        if self.phase in ("startup", "pair"):
            # As TCP's slow start: at most one more request per round trip per answer, so
            # the rate at most doubles per round trip and what is in flight when a limit is
            # met is at most twice what it accepted.
            step = min(GROWTH, STARTUP_STEP * self._startup_rate, 1.0 / self._rtt)
            self._startup_rate = min(self.ceiling, self._startup_rate + step)
        elif self.kind == "spacing" and self._target and sent_at >= self._target_since:
            self._target_ok += 1
            if self._target > self._lo and (self._target_ok >= PROVE_REQUESTS
                                            or now - self._target_since >= PROVE_SECONDS):
                self._lo = self._target
                self._step *= 2
                self._bisect(now)
        if self.phase == "run" and self._probe_at == math.inf and self._credit >= 1:
            self._schedule_probe(now)
        return None

    def throttled(self, now: float, retry_after: float | None,
                  sent_at: float | None = None) -> Decision:
        wait, note = checked_retry_after(retry_after)
        if sent_at is None:
            sent_at = now
        if self.phase == "fixed":
            self.pause(now, wait)
            return Decision(wait, note)
        self._credit -= 1  # every 429 is paid from the probing credit
        if sent_at < self._cut_at or sent_at in self._pair:
            return Decision(0.0, note)  # an echo: the refused request waits alone
        hi = self._rate_at(sent_at)
        c1 = self._count(self._ok, sent_at - 1.0, sent_at)
        self._log(f"{now:.3f} 429 phase={self.phase} kind={self.kind} hi={hi:.2f} c1={c1} q={self._quiet:.3f} "
                  f"cruise={self._cruise:.2f}")
        if self.phase in ("startup", "pair"):
            return self._end_startup(now, hi, c1, wait, note)
        if self.kind == "spacing":
            return self._spacing_refused(now, hi, wait, note)
        return self._window_refused(now, sent_at, hi, c1, wait, note)

    def _window_refused(self, now: float, sent_at: float, hi: float, c1: int, wait: float,
                        note: str) -> Decision:
        # A window refuses once it holds its limit. A sliding window's last second holds
        # less than the rate sent (it refused before the second was full): that count is
        # the limit.
        count = self._window_count(sent_at, hi)
        self._least_count = min(self._least_count, max(count, MIN_RATE))
        estimate = self._least_count
        repeated = now - self._last_refusal < MEMORY
        self._last_refusal = now
        probing = hi > self._cruise * 1.01
        pause = min(wait, SHORT_PAUSE) if probing and not repeated else wait
        decision = self._cut(now, pause, note)
        self._plan(self._cut_at, min(BETA * estimate, hi), MARGIN * estimate)
        return decision

    def _spacing_refused(self, now: float, hi: float, wait: float, note: str) -> Decision:
        # A spacing limiter refuses as soon as the rate passes it: hi is an upper bound.
        self._hi = min(self._hi, hi)
        self._step = SMALL_STEP
        if self._lo >= self._hi * 0.999:
            self._lo = self._hi / 2  # the lower bound was wrong: widen it
        decision = self._cut(now, min(wait, 1.5 / max(hi, MIN_RATE)), note)
        self._bisect(self._cut_at)
        return decision

    # -- a lower limit, and its return ------------------------------------------------------

    def _steady(self, now: float, sent_at: float) -> None:
        """An accepted answer while running: remember a cruise that held, and notice a
        window limit that rose (more accepted in a second than the least 429 showed)."""
        steady_since = max(self._t0 + self._climb, self._last_refusal)
        if self._cruise > self._held and now - steady_since >= HELD_SECONDS:
            self._held = self._cruise
        if self._least_count < math.inf and \
                self._count(self._ok, sent_at - 1.0, sent_at) > self._least_count * 1.05:
            self._least_count = math.inf

    def _low(self) -> bool:
        """Running well under a rate that held before: another client may have taken part
        of the key's limit, and may give it back."""
        return self.phase == "run" and self._cruise < RECOVER_BELOW * self._held

    def _pulse_size(self) -> int:
        """Requests a pulse sends at the rate that held: enough more than the cruise would
        send in their time to overfill a window at today's cruise, its margin included,
        so that a second with none refused means room for more."""
        extra = 1 + math.ceil(1.5 * self._cruise * (1 / MARGIN - 1))
        return math.ceil(extra / max(1e-3, 1 - self._cruise / self._held))

    def _in_pulse(self, sent_at: float) -> bool:
        """A request of the pulse, or one of the two sent at the cruise after it (a window
        the pulse overfilled refuses one of them, if not a request of the pulse)."""
        return bool(self._pulse) and self._pulse[0] <= sent_at < self._pulse_end()

    def _pulse_end(self) -> float:
        """The send time after which the pulse's verdict is in."""
        return self._pulse[-1] + 2.0 / self._cruise if self._pulse_left == 0 else math.inf

    def _pulse_answered(self, now: float, sent_at: float, accepted: bool) -> None:
        """An answer to a request of the pulse: its verdict once one is refused or the
        last one is answered."""
        if not self._pulse or (accepted and sent_at < self._pulse_end()):
            return
        self._log(f"{now:.3f} pulse {'taken' if accepted else 'refused'} "
                  f"cruise={self._cruise:.2f} held={self._held:.2f}")
        start, self._pulse, self._pulse_left = self._pulse[0], [], 0
        self._pulse_at = start + (RECOVER_EVERY if now - self._dropped_at < RECOVER_FOR
                                  else RECOVER_SLOW)
        if accepted:  # the limit rose: climb back to what held, and measure again
            self._least_count = math.inf
            self._lo, self._hi = self._cruise, math.inf
            self._step = 1.0
            self._plan(now, self._cruise, self._held, climb=RECOVER_CLIMB)

    def _cut(self, now: float, pause: float, note: str) -> Decision:
        self.pause(now, pause)
        self._quiet = self.resume_at - max(now, self._last_start)
        self._cut_at = max(now, self.resume_at)
        return Decision(pause, note)

    def _end_pair(self, now: float) -> None:
        """The first two requests went back to back: a spacing limiter (a token bucket
        without a burst, GCRA) refuses the second, a window or a bucket with a burst
        takes both."""
        self.kind = "window" if all(self._pair_answers) else "spacing"
        self._log(f"{now:.3f} pair kind={self.kind}")
        if self.phase == "pair":
            self.phase = "startup"

    def _end_startup(self, now: float, hi: float, c1: int, wait: float,
                     note: str) -> Decision:
        self.phase = "run"
        if self.kind == "spacing":
            # What startup's last second delivered is a lower bound (less one: a
            # tolerance); the rate that failed an upper one, at most four times too high.
            self._lo, self._hi = max(c1 - 1, hi / 4, MIN_RATE), hi
            decision = self._cut(now, min(wait, 1.5 / max(hi, MIN_RATE)), note)
            self._bisect(self._cut_at)
            return decision
        self._least_count = max(float(c1), MIN_RATE)
        decision = self._cut(now, wait, note)  # the window is full: wait as asked
        self._plan(self._cut_at, BETA * self._least_count, MARGIN * self._least_count)
        return decision

    def _bisect(self, now: float) -> None:
        """Spacing: search [lo, hi) for the limit until hi / lo is within TIGHT: the next
        target is lo raised by `step` but never past the geometric middle; the step
        doubles while targets hold and falls to SMALL_STEP after a 429 (the limit is then
        close above lo), so a failed try costs one 429 and little time."""
        lo, hi = self._lo, self._hi
        if hi <= lo * (1 + TIGHT):
            target = lo
        else:
            target = lo * min(math.sqrt(hi / lo), 1 + self._step)
        self._target, self._target_since, self._target_ok = target, now, 0
        self._plan(now, target, target, climb=0.0)

    def _plan(self, t0: float, base: float, cruise: float, climb: float = CLIMB) -> None:
        was_low = self._low()
        self._t0, self._base, self._cruise = t0, max(MIN_RATE, base), max(MIN_RATE, cruise)
        if self._low() and not was_low:
            self._dropped_at, self._pulse_at = t0, t0 + RECOVER_EVERY
        self._climb = climb
        self._probe_at = math.inf
        if self._credit >= 1:
            self._schedule_probe(t0)

    def _schedule_probe(self, now: float) -> None:
        self._probe_at = max(now, self._t0 + self._climb) + HOLD

    def pause(self, now: float, seconds: float) -> None:
        self.resume_at = max(self.resume_at, now + seconds)

    # -- measurements -----------------------------------------------------------------------

    def _rate_at(self, t: float) -> float:
        for start, rate in reversed(self._sends):
            if start <= t:
                return rate
        return self._startup_rate

    def _window_count(self, sent_at: float, rate: float) -> float:
        """The limit of a window that refused a request sent at `sent_at`. Each hypothesis
        (a sliding window: the count over the last second; a fixed window at one of PHASES
        alignments: the count since its boundary) gives a limit; it stands if no earlier
        whole window of its alignment accepted more and every other recent 429 came when
        its window held at least that many. The largest that stands."""
        best = 0
        refused = [t for t in self._refused if sent_at - WINDOWS_SEEN <= t < sent_at]
        for j in range(PHASES):
            def start(t: float) -> float:  # the start of t's window in this alignment
                offset = (sent_at - 1.0 + j / PHASES) % 1.0
                return t - 1.0 if j == 0 else math.floor(t - offset) + offset
            boundary = start(sent_at)
            count = self._count(self._ok, boundary, sent_at)
            if count <= best:
                continue
            most = max(self._count(self._ok, boundary - n, boundary - n + 1)
                       for n in range(1, WINDOWS_SEEN + 1))
            if most <= count and all(self._count(self._ok, start(t), t) >= count
                                     for t in refused):
                best = count
        if best:
            return float(best)
        # None stands: the limit changed (earlier windows held more). The last second's
        # count bounds it, unless all of that second at this rate was accepted.
        last = self._count(self._ok, sent_at - 1.0, sent_at)
        return float(last) if last < rate - 1 else BETA * rate

    def _flat(self, sent_at: float, rate: float) -> bool:
        """Sent at 0.97 x `rate` or more for FLAT_SECONDS before `sent_at`, and nothing of
        it refused."""
        since = sent_at - FLAT_SECONDS
        if self._count(self._refused, since, sent_at) or not self._sends:
            return False
        if self._sends[0][0] > since + 2.0 / rate:
            return False
        return all(r >= 0.97 * rate for t, r in self._sends if since <= t <= sent_at)

    @staticmethod
    def _count(times: list[float], start: float, end: float) -> int:
        return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)

    def _log(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append(text)


def _remember(times: list[float], t: float, now: float) -> None:
    bisect.insort(times, t)
    if times[0] < now - HISTORY:
        del times[:bisect.bisect_left(times, now - HISTORY)]


def checked_retry_after(seconds: float | None) -> tuple[float, str]:
    if seconds is None:
        return NO_HINT_PAUSE, ""
    if seconds != seconds or seconds < 0 or math.isinf(seconds):
        return NO_HINT_PAUSE, f"ignored an unusable Retry-After ({seconds}); waited " \
                              f"{NO_HINT_PAUSE:g} s"
    if seconds > RETRY_AFTER_MAX:
        return RETRY_AFTER_MAX, (f"the API asked to wait {seconds:g} s; capped at "
                                 f"{RETRY_AFTER_MAX:g} s")
    return seconds, ""
