"""When to retry, and how long to wait: the policy of the contract, as pure functions."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from datetime import UTC, datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

BACKOFF_BASE = 0.5  # seconds before the first retry (before jitter)
BACKOFF_CAP = 30.0  # no computed wait is longer
# A server may ask for a longer pause than a batch should sit through; past
# this, the row fails with the server's figure in its message.
RETRY_AFTER_CAP = 120.0


def backoff(retry_number: int, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random.

    Jitter spreads workers that failed together; the fixed half keeps a
    minimum wait so a struggling API is not hit again at once.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (retry_number - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After`."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = -1
        if 0 <= value < float("inf"):
            return value
    header = headers.get("retry-after")
    if header is None:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, seconds)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None
    return seconds


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
