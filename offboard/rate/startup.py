"""The rate controller's start (issue 22): the initial window, the pair test's verdict, and
what startup's first 429 says, the trickle's question included. A part of
rate/control.AdaptiveController (a mixin sharing its state), split out so that the file that
starts a run and the one that cruises through it each read on their own; the rate package's
docstring (rate/__init__.py) says why each step finds its limiter.

Until the first 429 only --rate paces the starts (and the caller's concurrency bounds what is
in flight), as TCP begins with an initial window; the first 429 ends startup here, and from then
on control.py's cruise, probes and searches take over.
"""

from __future__ import annotations

import math

from .evidence import MIN_GAP, Evidence
from .pair import QUESTION_SPACING, QUESTION_WITHIN, PairTest
from .pause import Decision
from .spacing import SMALL_STEP, Spacing
from .trickle import TRICKLE_WAIT, Trickle

# Shared with the cruise (rate/control.py imports them from here).
MIN_RATE = 0.2  # never slower than a request every 5 s
BETA = 0.9  # after a 429, restart at this share of the limit found
MARGIN = 0.97  # cruise this close under it
STARTUP_RATE = 2.0  # requests/s a spacing limiter's slow start begins at
GROWTH = math.log(2) / 0.1  # requests/s added per accepted answer in that slow start, at most
FIRST_HOLD = 1.0  # seconds at the cruise after startup before the first probe
FIRST_PROBE = 0.25  # which grows the rate by this share a second
BUCKET_PROBE = 2.0  # a bucket the trickle found: its climb grows the rate this share a second


class Startup(Spacing):
    """The startup half of AdaptiveController: its methods read and set the state the
    controller's __init__ makes (declared here for the type checker)."""

    ceiling: float
    concurrency: int
    phase: str
    kind: str
    resume_at: float
    trace: list[str] | None
    _seen: Evidence
    _pair: PairTest
    _trickle: Trickle
    _startup_rate: float
    _last_start: float
    _rtt: float
    _cut_at: float
    _least_count: float
    _burst: float
    _t0: float
    _climb: float
    _probe_at: float
    _probe_growth: float
    _restarted: bool
    _pair_count: int

    # The cruise's own moves (rate/control.py).
    def _cut(self, now: float, pause: float, note: str) -> Decision:
        raise NotImplementedError

    def _plan(self, t0: float, base: float, cruise: float, climb: float = 1.0) -> None:  # CLIMB
        raise NotImplementedError

    def pause(self, now: float, seconds: float) -> None:
        raise NotImplementedError

    def _slow_start(self) -> None:
        """An accepted answer before the first 429: a spacing limiter's slow start adds a
        request per round trip, at most GROWTH and at most doubling (the initial window
        already sends at --rate, which caps it)."""
        step = min(GROWTH, self._startup_rate, 1.0 / self._rtt)
        self._startup_rate = min(self.ceiling, self._startup_rate + step)

    def _pair_tested(self, now: float, kind: str, asked: bool = False) -> None:
        """The pair's verdict, or (`asked`) the question's that followed an unclear one."""
        self._log(f"{now:.3f} {'question' if asked else 'pair test'}: {kind}")
        pair, count = self._pair, self._pair_count
        sends = pair.sends
        held = self._seen.not_refused(sends[0] - 1.0, sends[-1] + 1e-9)
        if kind == "spacing" and not count and held >= 2:
            # The pair's first was not the second's only company (the run's first look-up
            # went a moment before, its answer maybe not read yet: the look-ups begin on its
            # head): a window of `held` refuses the second just as a spacing limiter does.
            # One request at the look-ups' own spacing tells: the window, full until its
            # first rolls, refuses it; a spacing limiter took that gap already. Where that
            # gap is too long to ask within the window's second, wait until it would have
            # rolled (the 429's Retry-After) and ask a pair again.
            self._pair_count = held
            company = self._seen.sends_before(sends[0])
            ask = sends[0] + QUESTION_SPACING * (sends[0] - company[-1]) if company else math.inf
            if ask <= company[0] + QUESTION_WITHIN:
                pair.ask(ask)
                self._cut_at = now
                return
            pair.again_after_roll()
            self.pause(now, pair.resume_at - now)
            self._cut_at = self.resume_at
            return
        self.kind = kind
        self.phase = "startup"
        if kind == "window" and asked:
            # The question refused: a window of `count`, full since the pair. Wait as asked
            # (it rolls), then cruise under it. No check after startup: the question's
            # 429 was that check's (a run of 148 requests at 2/s may have two).
            self.pause(now, pair.resume_at - now)
            self.phase, self._least_count, self._cut_at = "run", float(count), now
            self._plan(self.resume_at, BETA * count, MARGIN * count)
        elif kind == "window" and count:
            # The pair alone was taken: the first pair's 429 was a window's, `count` its
            # limit. Cruise under it as after startup's 429 (the window is known: no
            # initial window, whose 429 would be one more), counting the pair as its start.
            self._startup_ended_at(now, float(count), sends[0])
        elif kind == "spacing" and count:
            # The first pair's 429 asked about: a spacing limiter, which took the look-ups
            # before it at their spacing. One gap taken may be a tolerance's: search up
            # from BETA of that rate (a step at a time, each proved), as after a spacing
            # limiter's first 429. Gaps under MIN_GAP prove no rate: begin at 1 / MIN_GAP.
            self.phase, self._cut_at = "run", now
            spaced = self._seen.spaced_rate(sends[0] - 2.0, max(sends[0], now - 1e-9))
            spaced = spaced or 1.0 / MIN_GAP
            self._lo, self._hi = min(self.ceiling, max(STARTUP_RATE, BETA * spaced)), math.inf
            self._step = SMALL_STEP
            self._search(now)
        elif kind == "spacing":
            # A spacing limiter refuses whatever comes faster than its rate, so the initial
            # window's 429s say only that it was faster: they are echoes, and a slow start
            # from STARTUP_RATE finds the order of the rate (its 429 bounds it from above).
            self._startup_rate = min(self.ceiling, STARTUP_RATE)
            self._cut_at = now

    def _startup_ended_at(self, now: float, count: float, t0: float) -> None:
        self.phase, self._least_count, self._cut_at = "run", count, now
        self._plan(t0, BETA * count, MARGIN * count)
        self._last_start = max(self._last_start, t0 + 1.0 / (BETA * count))
        self._probe_at = self._t0 + self._climb + FIRST_HOLD
        self._probe_growth = FIRST_PROBE

    def _startup_ended(
        self, now: float, hi: float, sent_at: float, wait: float, note: str
    ) -> Decision:
        self.phase = "run"
        count = self._seen.last_second(sent_at)
        if self.kind == "spacing":
            # The last second's count is a lower bound (less one, for a tolerance); the
            # rate that failed an upper one, at most four times too high.
            self._lo, self._hi = max(count - 1, hi / 4, MIN_RATE), hi
            decision = self._cut(now, min(wait, 1.5 / max(hi, MIN_RATE)), note)
            self._search(self._cut_at)
            return decision
        self._least_count = max(float(count), MIN_RATE)
        if self.concurrency != 1 and self._trickle.begin(
            self._seen, count, now, sent_at, self._last_start, wait
        ):
            # A window that held `count` admits nothing more until it rolls; a bucket whose
            # burst it was refills at its rate: ask (rate/trickle.py), then decide.
            self._cut_at = now
            self._plan(now, 2 * count, 2 * count, climb=0.0)  # paces it 1 / (2 x count) apart
            self._probe_at = math.inf
            return Decision(0.0, note)
        decision = self._cut(now, wait, note)  # the window is full: wait as asked
        self._plan(self._cut_at, BETA * self._least_count, MARGIN * self._least_count)
        # A bucket with a burst passes the pair test too, and its first 429 shows the burst
        # and part of a second of its rate: check soon that the count was not too low.
        self._probe_at = self._t0 + self._climb + FIRST_HOLD
        self._probe_growth = FIRST_PROBE
        return decision

    def _trickle_sent(self, now: float) -> None:
        """A request starts while the trickle's is due: it asks, or came too late."""
        refused_at = self._trickle.answered_at
        if self._trickle.sent(now):
            self.resume_at = now + TRICKLE_WAIT  # alone: nothing else until its answer
        elif not self._restarted and self._seen.sent_in(refused_at - 1.0, refused_at) < (
            self.concurrency
        ):
            # No request was ready in time, and the initial window never had the caller's
            # concurrency to send: the caller was the bottleneck (the look-ups before the
            # batch, a page at a time), not the server. Once the pause is over the batch is
            # there: begin again at the initial window, and ask at its 429 (once).
            self._restarted = True
            self.phase, self._startup_rate = "startup", self.ceiling
            self.pause(refused_at, self._trickle.wait)
            self._cut_at = max(now + 1e-9, self.resume_at)  # answers before it are echoes
            self._log(f"{now:.3f} no caller asked: startup again from {self._cut_at:.3f}")
        else:
            # No request was ready in time (they wait out their 429s): go on as for a
            # window, its Retry-After counted from its 429.
            self._trickled_window(refused_at, self._trickle.wait)

    def _trickled(self, now: float, accepted: bool) -> Decision | None:
        """An answer to the trickle: the next of it, a window, or a bucket."""
        least = self._trickle.answered(self._seen, now, accepted)
        if self._trickle.due:
            self.resume_at = now
            return None
        self._log(f"{now:.3f} trickle: {'a bucket' if least else 'a window'}")
        if least is None:  # wait as asked from startup's 429
            return self._trickled_window(self._trickle.answered_at, self._trickle.wait)
        # A bucket refills at its rate, at least about the count: climb from it at once.
        count = self._least_count
        self.resume_at = now
        self._burst, self._least_count = count, math.inf
        base = max(count, least)
        self._plan(now, base, base, climb=0.0)
        self._probe_at, self._probe_growth = now, BUCKET_PROBE
        return None

    def _trickled_window(self, now: float, wait: float) -> Decision:
        """Startup's count was a window's: wait as asked, then cruise under it and check."""
        count = self._least_count
        self.resume_at = min(self.resume_at, now)  # not the trickle's wait for its answer
        decision = self._cut(now, wait, "")
        self._plan(self._cut_at, BETA * count, MARGIN * count)
        self._probe_at = self._t0 + self._climb + FIRST_HOLD
        self._probe_growth = FIRST_PROBE
        return decision

    def _log(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append(text)
