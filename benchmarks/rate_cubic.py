"""Today's rate controller (the runtime's), as a pure object: the time passed in."""

from __future__ import annotations

import math
from collections import deque


class CubicController:
    """Today's controller (before issue 12), pure: on a 429 every request waits out the
    Retry-After (a pause shared by all), and the rate is set from what the server just
    accepted, the answers other than 429 in the last second, W. After the pause the rate
    restarts at 97% of W and grows back like CUBIC's convex phase,

        rate(t) = W * (0.97 + 0.03 * (t / PROBE_SECONDS) ** 3)

    never above --rate. Pacing reserves slots: each start at least 1 / rate after the last
    reserved one, so concurrent workers queue in order (`reserve`, then `admits` once the
    slot comes: False if a pause arrived meanwhile). Measured against one shape, the sliding
    window, where it reaches 0.96 L; see benchmarks/rate_sim.py for the others."""

    MARGIN = 0.97  # restart just under the measured limit
    PROBE_SECONDS = 30.0  # time from the restart back up to the measured limit
    MIN_RATE = 0.2  # never slower than a request every 5 s

    def __init__(self, ceiling: float, adaptive: bool = True, concurrency: int = 0) -> None:
        # `concurrency`: the simulation passes it to every controller; this one ignores it.
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.next_slot = -math.inf
        self.resume_at = -math.inf
        self._accepted: deque[float] = deque()  # answers other than 429 in the last second
        self.limit: float | None = None  # W: the last measured limit
        self.probe_from = -math.inf  # when the climb after the last cut started

    def rate(self, now: float) -> float:
        """The current rate: the ceiling, or the climb back after the last 429."""
        if self.limit is None:
            return self.ceiling
        elapsed = max(0.0, now - self.probe_from)
        climbing = self.limit * (
            self.MARGIN + (1 - self.MARGIN) * (elapsed / self.PROBE_SECONDS) ** 3
        )
        return max(self.MIN_RATE, min(self.ceiling, climbing))

    def reserve(self, now: float) -> float:
        """This request's start time, reserved: the next one is 1 / rate later."""
        slot = max(now, self.next_slot, self.resume_at)
        self.next_slot = slot + 1.0 / self.rate(slot)
        return slot

    def admits(self, slot: float) -> bool:
        """False when a pause that arrived after `slot` was reserved covers it."""
        return self.resume_at <= slot

    # The event interface the simulation drives (it has no reservations: the next request
    # starts once the previous one is 1 / rate old).
    def next_start(self, now: float) -> float:
        return max(now, self.next_slot, self.resume_at)

    def sent(self, now: float) -> None:
        self.next_slot = now + 1.0 / self.rate(now)

    def on_answer(
        self,
        now: float,
        status: int | None,
        retry_after: float | None = None,
        sent_at: float | None = None,
    ) -> None:
        if status is None:
            return
        if status != 429:
            self.answered(now)
        else:
            self.throttled(now, retry_after if retry_after is not None else 1.0)

    def answered(self, now: float) -> None:
        """An answer that was not a 429: what the server accepts is the limit."""
        self._accepted.append(now)
        while self._accepted[0] <= now - 1.0:
            self._accepted.popleft()

    def pause(self, now: float, seconds: float) -> None:
        """Hold every request back for `seconds`."""
        self.resume_at = max(self.resume_at, now + seconds)

    def throttled(self, now: float, retry_after: float) -> None:
        """A 429: pause everyone, and (adaptive) lower the rate to what was accepted."""
        if now < self.resume_at:  # another answer from the same burst: one event
            self.pause(now, retry_after)
            return
        if self.adaptive:
            while self._accepted and self._accepted[0] <= now - 1.0:
                self._accepted.popleft()
            current = self.rate(now)
            # No floor beyond MIN_RATE: what the server accepted is the limit, and if few
            # requests went out, few is all this run was sending anyway.
            self.limit = min(current, max(len(self._accepted), self.MIN_RATE))
        self.pause(now, retry_after)
        self.probe_from = self.resume_at
