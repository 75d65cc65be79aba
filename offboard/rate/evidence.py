"""What the rate controller has seen in the last few seconds, and what a 429 says about
the server's limit.

Times are send times: the server counts arrivals, and every request arrives a constant
latency after it is sent, so a window of send times is the server's window.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

HISTORY = 6.0  # seconds kept: WINDOWS_SEEN whole windows before a 429, and some
PHASES = 20  # alignments of a fixed window tried
WINDOWS_SEEN = 4  # whole windows before a 429 that must agree with a hypothesis
STEADY = 2.0  # seconds at one rate, all accepted, that no window would refuse after


class Evidence:
    def __init__(self) -> None:
        self._sends: deque[tuple[float, float]] = deque()  # (send time, the rate then)
        self._accepted: list[float] = []  # send times, sorted
        self._refused: list[float] = []

    def sent(self, t: float, rate: float) -> None:
        self._sends.append((t, rate))
        while self._sends[0][0] < t - HISTORY:
            self._sends.popleft()

    def answered(self, sent_at: float, accepted: bool, now: float) -> None:
        times = self._accepted if accepted else self._refused
        bisect.insort(times, sent_at)
        if times[0] < now - HISTORY:
            del times[: bisect.bisect_left(times, now - HISTORY)]

    def rate_at(self, t: float, default: float) -> float:
        """The pacing rate when the request sent at `t` left."""
        for start, rate in reversed(self._sends):
            if start <= t:
                return rate
        return default

    def accepted(self, start: float, end: float) -> int:
        """Requests sent in [start, end) that were accepted."""
        return _count(self._accepted, start, end)

    def first_accepted(self, start: float, end: float) -> float | None:
        """The earliest send time in [start, end) that was accepted, if any."""
        i = bisect.bisect_left(self._accepted, start)
        return self._accepted[i] if i < len(self._accepted) and self._accepted[i] < end else None

    def last_refused(self, before: float) -> float | None:
        """The latest send time before `before` that was refused, if any."""
        i = bisect.bisect_left(self._refused, before)
        return self._refused[i - 1] if i else None

    def sent_in(self, start: float, end: float) -> int:
        """Requests sent in [start, end), whatever their answers (within HISTORY)."""
        return sum(1 for t, _ in reversed(self._sends) if start <= t < end)

    def last_second(self, t: float) -> int:
        return _count(self._accepted, t - 1.0, t)

    def steady(self, sent_at: float, rate: float) -> bool:
        """Sent at `rate` (0.97 of it or more) for STEADY seconds before `sent_at`, and all
        of it accepted: no window would refuse now (it would have refused before)."""
        since = sent_at - STEADY
        if _count(self._refused, since, sent_at) or not self._sends:
            return False
        if self._sends[0][0] > since + 2.0 / rate:
            return False
        return all(r >= 0.97 * rate for t, r in self._sends if since <= t <= sent_at)

    def window_limit(
        self, sent_at: float, rate: float, fallback: float
    ) -> tuple[float, float | None]:
        """The limit of a window that refused the request sent at `sent_at` (at `rate`).

        A window refuses once it holds its limit, so the count it held then is the limit;
        which requests it held depends on its kind. Each hypothesis gives one count: a
        sliding window, the accepted requests of the last second; a fixed window at one of
        PHASES alignments, those since its last boundary. A hypothesis stands if no earlier
        whole window of it accepted more, and every other recent 429 came when its window
        held at least that many. The largest count that stands is the limit: a sliding
        window's own count always stands; a fixed window's last second also counts the
        end of the window before (up to twice the limit), which earlier 429s refute.

        None stands when the limit has just dropped (earlier windows held more): then the
        last second's count bounds it, unless the whole second at this rate was accepted
        (a bucket whose burst ran out): `fallback`.

        Returns (the limit, the next boundary of the fixed window that stood, or None)."""
        best, boundary_next = 0, None
        refused = [t for t in self._refused if sent_at - WINDOWS_SEEN <= t < sent_at]
        for j in range(PHASES):
            offset = (sent_at - 1.0 + j / PHASES) % 1.0

            def start(t: float, j: int = j, offset: float = offset) -> float:
                return t - 1.0 if j == 0 else math.floor(t - offset) + offset

            boundary = start(sent_at)
            count = self.accepted(boundary, sent_at)
            if count <= best:
                continue
            most = max(
                self.accepted(boundary - n, boundary - n + 1) for n in range(1, WINDOWS_SEEN + 1)
            )
            if most <= count and all(self.accepted(start(t), t) >= count for t in refused):
                best, boundary_next = count, None if j == 0 else boundary + 1.0
        if best:
            return float(best), boundary_next
        last = self.last_second(sent_at)
        return (float(last) if last < rate - 1 else fallback), None


def _count(times: list[float], start: float, end: float) -> int:
    return bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
