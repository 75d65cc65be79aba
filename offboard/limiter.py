"""One rate limiter for every HTTP request of a run: the async face of a pure controller.

The controller (offboard/rate_control.py) holds all the policy and never touches time or
anyio: it is driven by the clock value and by events (an answer, a 429 with its
Retry-After), which is what lets offboard/rate_sim.py run it in virtual time against models
of server limiters. This wrapper only reads the injected clock, sleeps, and passes events on.

Today's runtime controller is `CubicController` (see its docstring): each request start gets
its own time slot, at least 1/rate after the previous one, so no 1-second window holds more
than `rate` starts. A slot is reserved before sleeping, so concurrent workers queue in order
without a lock (anyio tasks only switch at an await). On a 429 every request waits out the
server's Retry-After, and the rate restarts just under what the server accepted in the last
second, climbing back over PROBE_SECONDS.
"""

from __future__ import annotations

from .clock import Clock
from .rate_cubic import CubicController

MARGIN = CubicController.MARGIN
PROBE_SECONDS = CubicController.PROBE_SECONDS
MIN_RATE = CubicController.MIN_RATE


class RateLimiter:
    def __init__(self, rate: float, clock: Clock, adaptive: bool = True,
                 controller: CubicController | None = None) -> None:
        self.controller = controller or CubicController(rate, adaptive)
        self._clock = clock

    @property
    def ceiling(self) -> float:
        return self.controller.ceiling

    @property
    def _resume_at(self) -> float:
        """When the current pause ends (-inf: none)."""
        return self.controller.resume_at

    def rate(self, now: float) -> float:
        """The current rate: the ceiling, or the climb back after the last 429."""
        return self.controller.rate(now)

    async def acquire(self) -> None:
        """Wait for this request's slot."""
        while True:
            now = self._clock.now()
            slot = self.controller.reserve(now)
            if slot > now:
                await self._clock.sleep(slot - now)
            # A pause (429) that arrived while we slept moves us behind it.
            if self.controller.admits(slot):
                return

    def answered(self) -> None:
        """Count an answer that was not a 429: what the server accepts is the limit."""
        self.controller.answered(self._clock.now())

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`."""
        self.controller.pause(self._clock.now(), seconds)

    def throttled(self, retry_after: float) -> None:
        """The API answered 429: pause everyone, and (adaptive) lower the rate."""
        self.controller.throttled(self._clock.now(), retry_after)
