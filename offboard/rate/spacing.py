"""A spacing limiter's search (a token bucket without a burst, GCRA): part of
rate/control.AdaptiveController (a mixin sharing its state, as rate/startup.py is).

A spacing limiter refuses as soon as the rate passes it, so the rate at a refused send is an
upper bound (`hi`) and a rate that held PROVE_REQUESTS (or PROVE_SECONDS) is a lower one
(`lo`). The search tries rates between them, a growing step at a time (never past the
geometric middle), until they are TIGHT apart, and cruises at the lower; the rate package's
docstring (rate/__init__.py) says why startup's burst never sets the rate.
"""

from __future__ import annotations

import math

TIGHT = 0.05  # a spacing limiter's search stops when its bounds are this close
SMALL_STEP = 0.05  # the search's step after a 429
PROVE_REQUESTS = 6  # a rate holds once this many requests at it were accepted
PROVE_SECONDS = 3.0  # or it held this long
WIDEN = 0.9  # a rate proved and then refused: the lower bound drops to this share of it
JITTER_HELD = 5.0  # seconds a cruise held: a 429 at it then is an arrival's lateness


class Spacing:
    """The search half of AdaptiveController: its methods read and set the state the
    controller's __init__ makes (declared here for the type checker)."""

    _lo: float
    _hi: float
    _step: float
    _cruise: float
    _target_since: float
    _target_ok: int

    def _plan(self, t0: float, base: float, cruise: float, climb: float = 1.0) -> None:  # CLIMB
        raise NotImplementedError

    def _search(self, now: float) -> None:
        """The next rate to try in [lo, hi), or lo once they are TIGHT apart."""
        lo, hi = self._lo, self._hi
        target = lo if hi <= lo * (1 + TIGHT) else lo * min(math.sqrt(hi / lo), 1 + self._step)
        self._target_since, self._target_ok = now, 0
        self._plan(now, target, target, climb=0.0)

    def _spaced_answer(self, now: float, sent_at: float) -> None:
        """An accepted answer: the rate tried holds once proved, and the search goes on
        from it, its step doubled."""
        if sent_at < self._target_since:
            return
        self._target_ok += 1
        target = self._cruise
        if target > self._lo and (
            self._target_ok >= PROVE_REQUESTS or now - self._target_since >= PROVE_SECONDS
        ):
            self._lo, self._step = target, self._step * 2
            self._search(now)

    def _jittered(self, now: float, sent_at: float, rate: float) -> bool:
        """A 429 at the cruise after it held JITTER_HELD: a rate over a spacing limiter's is
        refused within its tolerance's credit (GCRA at 20/s, 5 ms: 0.4 s at 20.25/s), so
        this one was two arrivals bunched (a busy machine sent one late), not the rate. The
        bounds stay (each such 429 cost 10%, 0.46 L over a run at load 3); a second within
        JITTER_HELD moves them."""
        if rate > self._cruise * 1.01 or sent_at - self._target_since < JITTER_HELD:
            return False
        self._target_since = now
        return True

    def _spaced_refusal(self, hi: float) -> None:
        """A 429 at the rate `hi`: the limit is under it; the search's step starts small."""
        self._hi, self._step = min(self._hi, hi), SMALL_STEP
        if self._lo >= self._hi * 0.999:
            # The lower bound was wrong: a rate a little over the limit passes its proof
            # on a tolerance's credit (GCRA at 20/s, 5 ms: 20.25/s for 8 requests). Widen
            # it to WIDEN of the refused rate, not half (2.6 s back up at 20/s).
            self._lo = self._hi * WIDEN
