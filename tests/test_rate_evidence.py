"""The controller's recent send times (rate/evidence.py's _Recent) answer every question as a
list trimmed to the last HISTORY seconds on every answer would, though it trims in bulk."""

from __future__ import annotations

import bisect
import random

from offboard.rate.evidence import HISTORY, _Recent


class Trimmed:
    """The plain model: a sorted list, its expired times deleted on every add."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def add(self, t: float, horizon: float) -> None:
        bisect.insort(self.times, t)
        if self.times[0] < horizon:
            del self.times[: bisect.bisect_left(self.times, horizon)]

    def count(self, start: float, end: float) -> int:
        return bisect.bisect_left(self.times, end) - bisect.bisect_left(self.times, start)

    def first_in(self, start: float, end: float) -> float | None:
        i = bisect.bisect_left(self.times, start)
        return self.times[i] if i < len(self.times) and self.times[i] < end else None

    def last_before(self, before: float) -> float | None:
        i = bisect.bisect_left(self.times, before)
        return self.times[i - 1] if i else None

    def within(self, start: float, end: float) -> list[float]:
        return [t for t in self.times if start <= t < end]


def test_recent_times_answer_as_a_list_trimmed_on_every_answer() -> None:
    """10,000 answers at 500 a second, some sent long before (late answers), with
    every query after each: the same answers as the plain model, and bulk deletes happened."""
    rng = random.Random(7)
    recent, plain = _Recent(), Trimmed()
    now = 0.0
    for _ in range(10_000):
        now += rng.expovariate(500.0)
        sent = now - (rng.uniform(0, 9) if rng.random() < 0.01 else rng.uniform(0, 0.3))
        recent.add(sent, now - HISTORY)
        plain.add(sent, now - HISTORY)
        a, b = now - rng.uniform(-1, 8), now - rng.uniform(-1, 8)
        assert recent.count(a, b) == plain.count(a, b)
        assert recent.first_in(a, b) == plain.first_in(a, b)
        assert recent.last_before(a) == plain.last_before(a)
        assert recent.within(a, b) == plain.within(a, b)
    assert len(recent._times) < 2 * len(plain.times) + 1100  # deleted in bulk, not kept
