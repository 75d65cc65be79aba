"""What the rate controller has seen in the last few seconds, and what a 429 says about
the server's limit.

Times are send times: the server counts arrivals, and every request arrives a constant
latency after it is sent, so a window of send times is the server's window.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import deque

HISTORY = 6.0  # seconds kept: WINDOWS_SEEN whole windows before a 429, and some
PHASES = 20  # alignments of a fixed window tried
WINDOWS_SEEN = 4  # whole windows before a 429 that must agree with a hypothesis
STEADY = 2.0  # seconds at one rate, all accepted, that no window would refuse after
MIN_GAP = 0.05  # seconds: two accepted sends closer than this prove no rate (a tolerance)


class Evidence:
    def __init__(self) -> None:
        self._sends: deque[tuple[float, float]] = deque()  # (send time, the rate then)
        self._accepted = _Recent()  # send times of accepted requests
        self._refused = _Recent()

    def sent(self, t: float, rate: float) -> None:
        self._sends.append((t, rate))
        while self._sends[0][0] < t - HISTORY:
            self._sends.popleft()

    def answered(self, sent_at: float, accepted: bool, now: float) -> None:
        (self._accepted if accepted else self._refused).add(sent_at, now - HISTORY)

    def rate_at(self, t: float, default: float) -> float:
        """The pacing rate when the request sent at `t` left."""
        for start, rate in reversed(self._sends):
            if start <= t:
                return rate
        return default

    def accepted(self, start: float, end: float) -> int:
        """Requests sent in [start, end) that were accepted."""
        return self._accepted.count(start, end)

    def first_accepted(self, start: float, end: float) -> float | None:
        """The earliest send time in [start, end) that was accepted, if any."""
        return self._accepted.first_in(start, end)

    def spaced_rate(self, start: float, end: float) -> float:
        """The fastest spacing two accepted sends in [start, end) in a row were taken at,
        1 / their gap (0 for none): a spacing limiter that took them spaces requests no
        further apart. Gaps under MIN_GAP prove nothing (a tolerance admits them)."""
        times = self._accepted.within(start, end)
        gaps = [b - a for a, b in itertools.pairwise(times) if b - a >= MIN_GAP]
        return 1.0 / min(gaps) if gaps else 0.0

    def sends_before(self, t: float) -> list[float]:
        """The send times in the second before `t`, in order, whatever their answers."""
        return [s for s, _ in self._sends if t - 1.0 <= s < t]

    def last_refused(self, before: float) -> float | None:
        """The latest send time before `before` that was refused, if any."""
        return self._refused.last_before(before)

    def sent_in(self, start: float, end: float) -> int:
        """Requests sent in [start, end), whatever their answers (within HISTORY)."""
        return sum(1 for t, _ in reversed(self._sends) if start <= t < end)

    def not_refused(self, start: float, end: float) -> int:
        """Requests sent in [start, end) not refused so far: a window counts those still
        in flight too (within HISTORY)."""
        return self.sent_in(start, end) - self._refused.count(start, end)

    def last_second(self, t: float) -> int:
        return self._accepted.count(t - 1.0, t)

    def steady(self, sent_at: float, rate: float) -> bool:
        """Sent at `rate` (0.97 of it or more) for STEADY seconds before `sent_at`, and all
        of it accepted: no window would refuse now (it would have refused before)."""
        since = sent_at - STEADY
        if self._refused.count(since, sent_at) or not self._sends:
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
        refused = self._refused.within(sent_at - WINDOWS_SEEN, sent_at)
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


class _Recent:
    """Send times, sorted, of the last HISTORY seconds. Anything sent before the horizon
    (`now - HISTORY` at the latest `add`) counts as gone at once; it is deleted in bulk, as
    deleting the few expired times on every answer moved the whole list each time (at 12,800
    answers a second, most of the simulation's time)."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._horizon = -math.inf
        self._gone = 0  # how many of _times, from the front, are before the horizon

    def add(self, t: float, horizon: float) -> None:
        bisect.insort(self._times, t)
        self._horizon = max(self._horizon, horizon)
        self._gone = bisect.bisect_left(self._times, self._horizon)
        if self._gone > 1024 and self._gone * 2 > len(self._times):
            del self._times[: self._gone]
            self._gone = 0

    def count(self, start: float, end: float) -> int:
        """Times in [start, end)."""
        return self._index(end) - self._index(start)

    def first_in(self, start: float, end: float) -> float | None:
        i = self._index(start)
        return self._times[i] if i < len(self._times) and self._times[i] < end else None

    def last_before(self, before: float) -> float | None:
        i = bisect.bisect_left(self._times, before)
        return self._times[i - 1] if i > self._gone else None

    def within(self, start: float, end: float) -> list[float]:
        """Times in [start, end), in order."""
        return self._times[self._index(start) : self._index(end)]

    def _index(self, t: float) -> int:
        """Where `t` would go among the times that are not gone."""
        return max(self._gone, bisect.bisect_left(self._times, t))
