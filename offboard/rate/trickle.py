"""The question after startup's first 429 (issue 22): was its count a window's limit, or the
burst of a token bucket that refills faster?

The initial window sends at --rate; a bucket with a small burst (5 at 20/s) refuses it within a
tenth of a second, its count (the burst and that tenth of its rate) the same as a window of
that count would show. What tells them apart is what comes next: a window that held `count`
admits nothing until it rolls (a second after the first of them, or at its fixed boundary); a
bucket refills at its rate. So TRICKLE requests go one at a time, 1 / (2 x count) apart, right
after the 429: a bucket faster than about the count takes them, a window refuses the first.

The rate controller (rate/control.py) owns the rate and the pauses; this object only decides
whether the question can tell (`begin`), when its requests go, and reads its verdict from
the evidence (rate/evidence.py).
"""

from __future__ import annotations

import math

from .evidence import Evidence

TRICKLE_MIN = 4  # startup's count from which the question is asked (one 429 more, at most)
TRICKLE = 2  # requests, one at a time, 1 / (2 x count) apart
TRICKLE_WAIT = 2.0  # seconds each one's answer is waited for at most
# Seconds: one sent later than this after its turn proves nothing (a window may have rolled);
# the waiting request re-reads its turn every rate/limiter.POLL = 0.05 s.
TRICKLE_LATE = 0.1
SLOWER = 4  # a bucket that proves less than count / SLOWER is left to the window's way


class Trickle:
    def __init__(self) -> None:
        self.sending: float | None = None  # the send time of the one in flight (nan: due)
        self.wait = 0.0  # the Retry-After of startup's 429, which a window's verdict waits
        self.answered_at = 0.0  # when that 429 came
        self._count = 0.0
        self._refused_at = 0.0  # the send time of startup's 429
        self._until = 0.0  # a second after the first request of startup's count
        self._due = 0.0  # when the next one should start
        self._left = 0  # requests still to send
        self._first = 0.0  # the first one's send time

    @property
    def due(self) -> bool:
        return self.sending is not None and math.isnan(self.sending)

    def begin(
        self, seen: Evidence, count: int, now: float, sent_at: float, last_start: float, wait: float
    ) -> bool:
        """Startup's 429 (to the request sent at `sent_at`, answered `now`): ask, if the
        answer can tell (False: it cannot, and nothing is under way)."""
        first = seen.first_accepted(sent_at - 1.0, sent_at)
        until = (sent_at if first is None else first) + 1.0
        due = max(now, last_start + 0.5 / count) if count else math.inf
        if count < TRICKLE_MIN or due + 0.5 / count >= until:
            # A sliding window filled over a second rolls a request at a time, as a bucket
            # trickles: the question could not tell them apart.
            return False
        self.sending, self.wait, self.answered_at = math.nan, wait, now
        self._count, self._refused_at, self._until, self._due = count, sent_at, until, due
        self._left = TRICKLE
        return True

    def sent(self, now: float) -> bool:
        """A request starts while one is due: True if it asks the question (nothing else
        may start until its answer), False if it came too late to tell (the question is
        over: go on as for a window)."""
        if now > self._due + TRICKLE_LATE or now >= self._until:
            self.sending = None
            return False
        self.sending = now
        if self._left == TRICKLE:
            self._first = now
        return True

    def answered(self, seen: Evidence, now: float, accepted: bool) -> float | None:
        """The answer to the one in flight (already in `seen`). Returns None while the
        question goes on (the next one is due) or ends with a window; else the rate the
        bucket is proven to refill at, at least (`self.sending` is None once it is over)."""
        sent_at, self.sending = self.sending, None
        assert sent_at is not None
        self._left -= 1
        if accepted and self._left:  # the next one, as soon as its turn comes
            self.sending, self._due = math.nan, max(now, sent_at + 0.5 / self._count)
            return None
        # Empty when it refused the request sent at `anchor`, a bucket accepts n requests in
        # the T s after only if it gains n - 1 tokens or more: its rate is at least
        # (n - 1) / T. A window that held `count` accepts none.
        anchor = seen.last_refused(self._first)
        anchor = self._refused_at if anchor is None else anchor
        span = sent_at - anchor
        least = (seen.accepted(anchor + 1e-9, sent_at + 1e-9) - 1) / span if span > 0 else 0.0
        if not accepted or least < self._count / SLOWER:
            # A window; or a bucket slower than the count (its burst was larger than a
            # second of its rate), which the window's way finds as well.
            return None
        return least

    def is_answer(self, sent_at: float) -> bool:
        return self.sending is not None and sent_at == self.sending
