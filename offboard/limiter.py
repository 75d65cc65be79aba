"""One rate limiter for every HTTP request of a run, which finds the API's real limit.

Pacing: each request start gets its own time slot, at least 1/rate after the
previous one, so no 1-second window holds more than `rate` starts. A slot is
reserved before sleeping, so concurrent workers queue in order without a lock
(anyio tasks only switch at an await).

Adapting: Gcore publishes no limit, so `--rate` is only a ceiling. On a 429
every request waits out the server's Retry-After (a pause shared by all
workers), and the rate is set from what the server just accepted: the number
of answers other than 429 received in the last second. After the
pause the rate restarts at 97% of that ceiling W and grows back like CUBIC's
convex phase,

    rate(t) = W * (0.97 + 0.03 * (t / PROBE_SECONDS) ** 3)

flat at first, so it runs just under the limit for a long time, then faster,
so a limit that was raised (or a Retry-After that was about something else)
is found again. It never exceeds --rate.

Why not plain AIMD or botocore's CUBIC: every 429 costs a whole Retry-After
pause for every worker, so what matters is how rarely the limit is crossed.
Multiplicative back-off alone restarts far below the limit and climbs straight
back into it (a pause every few seconds); CUBIC as botocore tunes it returns
to the old maximum within a few seconds and crosses it again soon after. Here
the limit is crossed about once per PROBE_SECONDS, while the rate between
crossings stays within 3% of it. In a simulation against a sliding-window
limit L (tests/test_limiter.py), told --rate 5 L: goodput 0.96 L with at most
0.7% of requests refused, where halving plus additive increase gets 0.63-0.73 L.
"""

from __future__ import annotations

import math
from collections import deque

from .clock import Clock

MARGIN = 0.97  # restart just under the measured limit
PROBE_SECONDS = 30.0  # time from the restart back up to the measured limit
MIN_RATE = 0.2  # never slower than a request every 5 s


class RateLimiter:
    def __init__(self, rate: float, clock: Clock, adaptive: bool = True) -> None:
        self.ceiling = rate
        self._clock = clock
        self._adaptive = adaptive
        self._next_slot = -math.inf
        self._resume_at = -math.inf
        self._accepted: deque[float] = deque()  # answers other than 429 in the last second
        self._limit: float | None = None  # W: the last measured limit
        self._probe_from = -math.inf  # when the climb after the last cut started

    def rate(self, now: float) -> float:
        """The current rate: the ceiling, or the climb back after the last 429."""
        if self._limit is None:
            return self.ceiling
        elapsed = max(0.0, now - self._probe_from)
        climbing = self._limit * (MARGIN + (1 - MARGIN) * (elapsed / PROBE_SECONDS) ** 3)
        return max(MIN_RATE, min(self.ceiling, climbing))

    async def acquire(self) -> None:
        """Wait for this request's slot."""
        while True:
            now = self._clock.now()
            slot = max(now, self._next_slot, self._resume_at)
            self._next_slot = slot + 1.0 / self.rate(slot)
            if slot > now:
                await self._clock.sleep(slot - now)
            # A pause (429) that arrived while we slept moves us behind it.
            if self._resume_at <= slot:
                return

    def answered(self) -> None:
        """Count an answer that was not a 429: what the server accepts is the limit."""
        now = self._clock.now()
        self._accepted.append(now)
        while self._accepted[0] <= now - 1.0:
            self._accepted.popleft()

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`."""
        self._resume_at = max(self._resume_at, self._clock.now() + seconds)

    def throttled(self, retry_after: float) -> None:
        """The API answered 429: pause everyone, and (adaptive) lower the rate."""
        now = self._clock.now()
        if now < self._resume_at:  # another answer from the same burst: one event
            self.pause(retry_after)
            return
        if self._adaptive:
            while self._accepted and self._accepted[0] <= now - 1.0:
                self._accepted.popleft()
            current = self.rate(now)
            accepted = len(self._accepted)
            # No floor beyond MIN_RATE: what the server accepted is the limit, and if few
            # requests went out, few is all this run was sending anyway.
            self._limit = min(current, max(accepted, MIN_RATE))
        self.pause(retry_after)
        self._probe_from = self._resume_at
