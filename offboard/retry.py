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
