"""Finding a limit's return: after the limit drops (another client on the key took part of
it), small pulses at the rate that held before ask whether the room is back.

The rate controller (rate/control.py) owns the rate; this object only remembers the rate that
held, decides when a pulse is due and how many requests it sends, and reads its verdict.
"""

from __future__ import annotations

import math

HELD_SECONDS = 5.0  # a cruise this long without a 429 is one the key can have
RECOVER_BELOW = 0.7  # cruising under this share of it: look for its return
RECOVER_EVERY = 2.0  # with a pulse this often
RECOVER_FOR = 30.0  # for this long after the drop
RECOVER_SLOW = 10.0  # then this often


class Recovery:
    def __init__(self, margin: float) -> None:
        self.margin = margin  # the controller's cruise, as a share of the limit it found
        self.held = 0.0  # the highest cruise that held HELD_SECONDS
        self._dropped_at, self._due = -math.inf, math.inf
        self._pulse: list[float] = []  # send times of the pulse under way
        self.left = 0  # its requests still to send (the rate is `held` meanwhile)
        self._began = -math.inf
        self._spent = -math.inf  # 429s to requests sent from _began to this are the pulse's

    def low(self, cruise: float) -> bool:
        """Cruising well under a rate that held."""
        return cruise < RECOVER_BELOW * self.held

    def held_for(self, cruise: float, seconds: float) -> None:
        """The cruise has held `seconds` without a 429."""
        if cruise > self.held and seconds >= HELD_SECONDS:
            self.held = cruise

    def planned(self, t0: float, was_low: bool, now_low: bool) -> None:
        """A new plan from t0: a drop starts the pulses."""
        if now_low and not was_low:
            self._dropped_at, self._due = t0, t0 + RECOVER_EVERY

    def sent(self, now: float, cruise: float, running: bool) -> None:
        if not self.left and now >= self._due and running and self.low(cruise):
            self.left, self._pulse, self._began = self._size(cruise), [], now
            self._due = self._spent = math.inf  # its verdict sets them
        if self.left:
            self._pulse.append(now)
            self.left -= 1

    def answered(self, now: float, sent_at: float, accepted: bool, cruise: float) -> bool | None:
        """An answer to the request sent at `sent_at`: True when the pulse was taken (the
        limit rose), False when it was refused, None when there is no verdict."""
        if not self._pulse:
            return None
        end = self._end(cruise)
        if sent_at >= end:
            return self._verdict(now, end, taken=True)
        if sent_at >= self._pulse[0] and not accepted:
            return self._verdict(now, end, taken=False)
        return None

    def refused_by_pulse(self, sent_at: float) -> bool:
        """A 429 to a request of a pulse's second: the pulse overfilled a window."""
        return self._began <= sent_at < self._spent

    def _size(self, cruise: float) -> int:
        """Requests a pulse sends at the rate that held: enough more than the cruise would
        send in their time to overfill a window at today's cruise, its margin included."""
        extra = 1 + math.ceil(1.5 * cruise * (1 / self.margin - 1))
        return math.ceil(extra / max(1e-3, 1 - cruise / self.held))

    def _end(self, cruise: float) -> float:
        """The send time from which the pulse's verdict is in: two requests after it (a
        window it overfilled refuses one of them if not one of its own)."""
        return self._pulse[-1] + 2.0 / cruise if self.left == 0 else math.inf

    def _verdict(self, now: float, end: float, taken: bool) -> bool:
        start = self._pulse[0]
        self._pulse, self.left = [], 0
        self._spent = max(start + 1.0, end if end < math.inf else now)
        self._due = start + (
            RECOVER_EVERY if now - self._dropped_at < RECOVER_FOR else RECOVER_SLOW
        )
        return taken
