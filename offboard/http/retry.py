"""When to retry, and how long to wait: the policy of the contract, as pure functions.

A server's wait (`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date) is read
here, by `read_retry_after`, into a number; what a number means is rate/pause.py's one rule
(`checked_retry_after`, `usable`, `too_long`), which the retry and the run-wide pause both
use. Every value has a defined reading; none raises:
- a finite number >= 0 (what float() reads, surrounding spaces ignored) is the wait;
- negative, NaN, infinite or garbage (in either header) is ignored as if absent: a 429's retry
  and the run-wide pause wait NO_HINT_PAUSE (1 s; a 5xx's retry backs off exponentially), and
  the retry's log line and a failed row's message say "ignored an unusable Retry-After ('soon')";
- a date in the past is 0 s: retry at once (only the server's clock is behind);
- a wait over RETRY_AFTER_CAP (an hour, 10**12, 1e308, a date next year) is kept as the
  server's figure: http/requester.py fails the row unretried, the run pausing only
  NO_HINT_PAUSE, its message saying "the API asked to wait 7200 s; offboard waits at most
  120 s" (`shown_wait`: past a day only "more than a day").
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..rate.pause import RETRY_AFTER_CAP, shown_wait, usable

__all__ = [
    "RETRY_AFTER_CAP",
    "RETRY_STATUSES",
    "CircuitBreaker",
    "Hint",
    "RetryBudget",
    "backoff",
    "read_retry_after",
    "retry_after",
    "shown_wait",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

BACKOFF_BASE = 0.5  # seconds before the first retry (before jitter)
BACKOFF_CAP = 30.0  # no computed wait is longer


def backoff(retry_number: int, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random.

    Jitter spreads workers that failed together; the fixed half keeps a
    minimum wait so a struggling API is not hit again at once.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (retry_number - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class Hint:
    """What a response's wait headers said: `seconds` to wait (None: no usable hint), and
    `ignored`, a note naming the unusable values ("" if none) for the retry's log line."""

    seconds: float | None
    ignored: str = ""


def read_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> Hint:
    """The server's wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP date),
    each value read into a number here and judged by rate/pause.py's `usable`; an unusable one
    is named in `ignored` and the next header is tried."""
    ignored: list[str] = []
    for name, shown, read in (
        ("retry-after-ms", "retry-after-ms", _milliseconds),
        ("retry-after", "Retry-After", _seconds_or_date),
    ):
        text = headers.get(name)
        if text is None:
            continue
        seconds = read(text.strip(), now)
        if seconds is not None and usable(seconds):
            return Hint(seconds, _ignored(ignored))
        ignored.append(f"{shown} ({_bounded(text.strip())})")
    return Hint(None, _ignored(ignored))


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait, None if it gave no usable hint (read_retry_after)."""
    return read_retry_after(headers, now).seconds


def _milliseconds(text: str, now: datetime | None) -> float | None:
    try:
        return float(text) / 1000
    except ValueError:
        return None


def _seconds_or_date(text: str, now: datetime | None) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    import email.utils  # an HTTP date here is rare, and every run imports this module

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _ignored(values: list[str]) -> str:
    return f"ignored an unusable {' and '.join(values)}" if values else ""


def _bounded(text: str) -> str:
    """A header value for a note: escaped (repr), and cut short, since a server wrote it."""
    return repr(text if len(text) <= 30 else text[:27] + "...")


class RetryBudget:
    """A run-wide retry quota, as botocore's: a failing API is not multiplied by retries.

    Each retry after a 5xx or a network error spends tokens (a timeout more,
    since it held a connection for the whole timeout); a request that succeeds
    at once earns one back, and one that succeeds after retries refunds what
    it spent. When the budget is empty, failures are not retried: rows fail
    fast, and the circuit breaker can stop the run. 429s do not spend it: the
    rate limiter answers those.
    """

    CAPACITY = 500
    RETRY_COST = 5
    TIMEOUT_COST = 10

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.tokens = capacity

    def spend(self, timeout: bool) -> int:
        """Tokens taken for one retry (0: the budget is empty, do not retry)."""
        cost = self.TIMEOUT_COST if timeout else self.RETRY_COST
        if self.tokens < cost:
            return 0
        self.tokens -= cost
        return cost

    def succeeded(self, spent: int) -> None:
        self.tokens = min(self.capacity, self.tokens + (spent or 1))


class CircuitBreaker:
    """Stops a run after `threshold` rows in a row failed on 5xx or network errors."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.consecutive = 0

    def record(self, failed_on_server: bool) -> bool:
        """Count one settled row; True when the breaker trips."""
        self.consecutive = self.consecutive + 1 if failed_on_server else 0
        return self.consecutive >= self.threshold
