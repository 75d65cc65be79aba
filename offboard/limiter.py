"""One rate limiter for every HTTP request of a run: retries and look-ups included.

Each request start gets its own time slot, at least 1/rate after the previous
one, so no 1-second window holds more than `rate` starts. A slot is reserved
before sleeping, so concurrent workers queue in order without a lock (anyio
tasks only switch at an await).
"""

from __future__ import annotations

import math

from .clock import Clock


class RateLimiter:
    def __init__(self, rate: float, clock: Clock) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next_slot = -math.inf
        self._resume_at = -math.inf

    async def acquire(self) -> None:
        """Wait for this request's slot."""
        while True:
            now = self._clock.now()
            slot = max(now, self._next_slot, self._resume_at)
            self._next_slot = slot + self._interval
            if slot > now:
                await self._clock.sleep(slot - now)
            # A pause (429) that arrived while we slept moves us behind it.
            if self._resume_at <= slot:
                return

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`: the API said it is overloaded."""
        self._resume_at = max(self._resume_at, self._clock.now() + seconds)
