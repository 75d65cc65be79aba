"""What a 429 makes everyone wait: the one rule for a server's Retry-After, and the `Decision`
the controller returns for it (the pause, and a note for the log).

http/retry.py only reads the headers (`retry-after-ms`, `Retry-After` in seconds or as a date)
into a number; every check of that number is here, and the runtime uses it for every wait a
429 causes: the refused request's own retry (http/requester.py), the run-wide pause (the
controller, rate/control.py, adaptive or at a fixed --rate) and whether the row fails at once.
So the retry and the controller cannot disagree on what a value means:

- a finite number from 0 to RETRY_AFTER_CAP is the wait;
- none, or negative, NaN or infinite (garbage text reads as NaN): no usable hint, the wait is
  NO_HINT_PAUSE, and the note names the value;
- over RETRY_AFTER_CAP (an hour, 10**12, a date in 2999): the row fails unretried, its message
  naming the server's figure (`shown_wait`), and the run pauses NO_HINT_PAUSE, as without one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NO_HINT_PAUSE = 1.0  # the pause of a 429 without a usable Retry-After
# A server may ask for a longer pause than a batch should sit through; past this, the row
# fails with the server's figure in its message.
RETRY_AFTER_CAP = 120.0


@dataclass(frozen=True)
class Decision:
    """What a 429 did: the pause everyone now waits, and a note for the log ("" if none)."""

    pause: float
    note: str = ""


def usable(seconds: float) -> bool:
    """A wait that can be honoured, or at least named: finite and not negative."""
    return 0 <= seconds < math.inf  # NaN fails this too


def too_long(seconds: float | None) -> bool:
    """A usable wait past RETRY_AFTER_CAP: its row fails rather than stall the batch."""
    return seconds is not None and usable(seconds) and seconds > RETRY_AFTER_CAP


def checked_retry_after(seconds: float | None) -> tuple[float, str]:
    """The wait a 429's hint asks for, made safe (the module's docstring): returns (seconds,
    note), the note "" when the hint was honoured as given or absent."""
    if seconds is None:
        return NO_HINT_PAUSE, ""
    if not usable(seconds):
        return NO_HINT_PAUSE, f"ignored an unusable Retry-After ({seconds})"
    if too_long(seconds):
        return NO_HINT_PAUSE, (
            f"the API asked to wait {shown_wait(seconds)}; offboard waits at most "
            f"{RETRY_AFTER_CAP:g} s"
        )
    return seconds, ""


def shown_wait(seconds: float) -> str:
    """A server's wait for a message: the figure up to a day, beyond that only "more than a
    day" (10**12 or 1e308 s is no figure anyone can use, and {:g} would print 1e+308)."""
    return f"{seconds:g} s" if seconds <= 86400 else "more than a day"
