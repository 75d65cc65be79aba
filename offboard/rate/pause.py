"""What a 429 makes everyone wait: the server's Retry-After made safe, and the `Decision`
the controller returns for it (the pause, and a note for the log).

Apart from rate/control.py, which decides how fast to send: this only reads one answer's hint,
so the same rule holds at a fixed --rate and while the controller searches for a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NO_HINT_PAUSE = 1.0  # the pause of a 429 without a usable Retry-After
RETRY_AFTER_MAX = 3600.0  # a longer Retry-After is capped, and said so


@dataclass(frozen=True)
class Decision:
    """What a 429 did: the pause everyone now waits, and a note for the log ("" if none)."""

    pause: float
    note: str = ""


def checked_retry_after(seconds: float | None) -> tuple[float, str]:
    """The pause a 429's hint asks for, made safe: none -> NO_HINT_PAUSE; negative, NaN or
    infinite -> NO_HINT_PAUSE; over RETRY_AFTER_MAX -> capped. Returns (seconds, note)."""
    if seconds is None:
        return NO_HINT_PAUSE, ""
    if seconds != seconds or seconds < 0 or math.isinf(seconds):
        return NO_HINT_PAUSE, (
            f"ignored an unusable Retry-After ({seconds}); waited {NO_HINT_PAUSE:g} s"
        )
    if seconds > RETRY_AFTER_MAX:
        return RETRY_AFTER_MAX, (
            f"the API asked to wait {seconds:g} s; capped at {RETRY_AFTER_MAX:g} s"
        )
    return seconds, ""
