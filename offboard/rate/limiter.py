"""One rate limiter for every HTTP request of a run: the async face of a pure controller.

The controller (offboard/rate/control.py) holds all the policy and never touches time or
anyio: it is driven by the clock value and by events (a request sent, an answer with its
status and Retry-After), which is what lets benchmarks/rate_model.py run the same object in
virtual time against models of server limiters. This wrapper only reads the injected clock,
sleeps, and passes events on.

Waiting requests queue on a lock, in order; the one at the head sleeps until the
controller's next start, re-asking at least every POLL seconds, because an answer that
arrives meanwhile can move that start (a 429 later, a climbing rate sooner).
"""

from __future__ import annotations

import anyio

from ..core.clock import Clock
from .control import MIN_RATE, AdaptiveController
from .pause import Decision

__all__ = ["MIN_RATE", "POLL", "RateLimiter"]

POLL = 0.05  # seconds: the head of the queue re-reads the next start at least this often


class RateLimiter:
    def __init__(
        self,
        rate: float,
        clock: Clock,
        adaptive: bool = True,
        controller: AdaptiveController | None = None,
        concurrency: int = 0,
    ) -> None:
        """`concurrency`: the run's --concurrency, the controller's initial window."""
        self.controller = controller or AdaptiveController(rate, adaptive, concurrency)
        self._clock = clock
        self._queue = anyio.Lock(fast_acquire=True)  # no checkpoint when uncontended

    @property
    def ceiling(self) -> float:
        return self.controller.ceiling

    def rate(self, now: float) -> float:
        return self.controller.rate(now)

    async def acquire(self) -> float:
        """Wait for this request's turn; returns its start time (pass it back with the
        answer)."""
        async with self._queue:
            slept_for = None  # the start this request slept until, if it did
            while True:
                now = self._clock.now()
                start = self.controller.next_start(now)
                if start <= now:
                    # Woken late for the start it slept for, which is still its turn (no
                    # pause or cut moved it meanwhile): the turn counts, not the lateness.
                    on_time = (
                        slept_for is not None and self.controller.next_start(slept_for) <= slept_for
                    )
                    self.controller.sent(now, slept_for if on_time else None)
                    return now
                slept_for = start if start - now <= POLL else None
                await self._clock.sleep(min(start - now, POLL))

    def answered(self, sent_at: float, status: int | None = 200) -> None:
        """An answer that was not a 429 (status None: no answer, a network error)."""
        self.controller.on_answer(self._clock.now(), status, None, sent_at)

    def throttled(self, sent_at: float, retry_after: float | None) -> Decision | None:
        """The API answered 429, with its Retry-After in seconds (None: none usable)."""
        return self.controller.on_answer(self._clock.now(), 429, retry_after, sent_at)

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds`."""
        self.controller.pause(self._clock.now(), seconds)
