"""Models of server rate limiters, shared by the sandbox and the simulation
(benchmarks/rate_model.py).

`admit(t)` is called at each request's arrival, with any monotonic time; it returns None
(accepted) or the seconds until a request would be accepted (the basis of a 429's hint).
A world's `rate_limit: N` is the sliding window of N a second (what the sandbox always had);
`limiter_from_spec` builds any of them from a mapping such as
`{"shape": "token_bucket", "rate": 20, "burst": 5}`; the mapping's `hint` (HINTS) says how
a 429 carries that wait, which `hint_headers` writes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

SHAPES = ("token_bucket", "fixed_window", "sliding_window", "gcra", "changing")
HINTS = ("seconds", "ms", "none")


class Limiter(Protocol):
    def admit(self, t: float) -> float | None: ...


class NoLimit:
    def admit(self, t: float) -> float | None:
        return None


class TokenBucket:
    """`rate` tokens a second into a bucket of `burst`; a request takes one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.last = self.burst, 0.0

    def set_rate(self, rate: float) -> None:
        self.rate = rate

    def admit(self, t: float) -> float | None:
        self.tokens = min(self.burst, self.tokens + (t - self.last) * self.rate)
        self.last = t
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate


class FixedWindow:
    """At most `limit` accepted requests in each window [k, k + 1) seconds."""

    def __init__(self, limit: float) -> None:
        self.limit, self.window, self.count = limit, -1, 0

    def set_rate(self, rate: float) -> None:
        self.limit = rate

    def admit(self, t: float) -> float | None:
        window = math.floor(t)
        if window != self.window:
            self.window, self.count = window, 0
        if self.count + 1 <= self.limit + 1e-9:
            self.count += 1
            return None
        return window + 1 - t


class SlidingWindow:
    """At most `limit` accepted requests in any 1 s (the sandbox's model: a log of accepts);
    a limit under 1 a second is 1 request in any 1 / limit seconds."""

    def __init__(self, limit: float) -> None:
        self.set_rate(limit)
        self.accepted: deque[float] = deque()

    def set_rate(self, rate: float) -> None:
        self.count = max(1, math.floor(rate + 1e-9))
        self.window = self.count / rate

    def admit(self, t: float) -> float | None:
        while self.accepted and t - self.accepted[0] >= self.window:
            self.accepted.popleft()
        if len(self.accepted) < self.count:
            self.accepted.append(t)
            return None
        oldest = self.accepted[len(self.accepted) - self.count]
        return max(0.0, oldest + self.window - t)


class Gcra:
    """The generic cell rate algorithm (a leaky bucket as a meter): one request per 1/rate,
    with `tolerance` seconds of earliness allowed (0: strictly spaced)."""

    def __init__(self, rate: float, tolerance: float = 0.0) -> None:
        self.interval, self.tolerance, self.tat = 1.0 / rate, tolerance, 0.0

    def set_rate(self, rate: float) -> None:
        self.interval = 1.0 / rate

    def admit(self, t: float) -> float | None:
        early = self.tat - self.tolerance - t
        if early > 1e-9:
            return early
        self.tat = max(self.tat, t) + self.interval
        return None


class Changing:
    """Another limiter whose rate follows `schedule`: [(from time, rate), ...]."""

    def __init__(
        self,
        inner: TokenBucket | FixedWindow | SlidingWindow | Gcra,
        schedule: Sequence[tuple[float, float]],
    ) -> None:
        self.inner, self.schedule = inner, list(schedule)
        self._applied = 0

    def admit(self, t: float) -> float | None:
        while self._applied + 1 < len(self.schedule) and t >= self.schedule[self._applied + 1][0]:
            self._applied += 1
            self.inner.set_rate(self.schedule[self._applied][1])
        return self.inner.admit(t)


def whole_seconds(wait: float) -> int:
    """A wait as Retry-After gives it: whole seconds, rounded up, at least 1 (a Retry-After
    of 0 would invite the client straight back into the refusal)."""
    # The tolerance keeps float noise (1.0000000001) from costing a whole extra second.
    return max(1, math.ceil(wait - 1e-9))


def hint_headers(hint: str, wait: float) -> dict[str, str]:
    """The 429's headers: `seconds` (Retry-After, whole seconds, at least 1), `ms`
    (retry-after-ms, rounded up) or `none`."""
    if hint == "seconds":
        return {"retry-after": str(whole_seconds(wait))}
    if hint == "ms":
        return {"retry-after-ms": str(max(1, math.ceil(wait * 1000 - 1e-6)))}
    return {}


def hint_of(spec: int | float | Mapping[str, Any]) -> str | None:
    """How a 429 from the limiter of a world's `rate_limit` carries its hint: None for a
    plain number (the world's fixed `retry_after`, as the sandbox always answered), else
    the mapping's `hint`, by default `seconds` (from the model's own wait)."""
    if not isinstance(spec, Mapping):
        return None
    hint = spec.get("hint", "seconds")
    if hint not in HINTS:
        raise ValueError(f"rate_limit.hint: one of {', '.join(HINTS)}, not {hint!r}")
    return str(hint)


def limiter_from_spec(spec: int | float | Mapping[str, Any]) -> Limiter:
    """A limiter from a world's `rate_limit`: a number (the sliding window), or a mapping
    with `shape` (one of SHAPES) and `rate`; `burst` for a token bucket (default 1),
    `tolerance` (seconds) for GCRA (default 0), and for `changing` a `schedule` of
    [from seconds, rate] pairs over a sliding window (`within`: another shape)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return SlidingWindow(_positive(spec, "rate_limit"))
    if not isinstance(spec, Mapping):
        raise ValueError("rate_limit: a number or a mapping with a shape")
    shape = spec.get("shape")
    if shape == "changing":
        schedule = spec.get("schedule")
        if not isinstance(schedule, Sequence) or not schedule:
            raise ValueError("rate_limit.schedule: a list of [from seconds, rate] pairs")
        pairs = [(float(t), _positive(r, "rate_limit.schedule")) for t, r in schedule]
        inner = limiter_from_spec(
            {**spec, "shape": spec.get("within", "sliding_window"), "rate": pairs[0][1]}
        )
        if not isinstance(inner, (TokenBucket, FixedWindow, SlidingWindow, Gcra)):
            raise ValueError(
                "rate_limit.within: token_bucket, fixed_window, sliding_window or gcra"
            )
        return Changing(inner, pairs)
    rate = _positive(spec.get("rate"), "rate_limit.rate")
    if shape == "token_bucket":
        return TokenBucket(rate, _positive(spec.get("burst", 1), "rate_limit.burst"))
    if shape == "fixed_window":
        return FixedWindow(rate)
    if shape == "sliding_window":
        return SlidingWindow(rate)
    if shape == "gcra":
        tolerance = spec.get("tolerance", 0.0)
        if not isinstance(tolerance, (int, float)) or not 0 <= tolerance < math.inf:
            raise ValueError("rate_limit.tolerance: seconds, 0 or more")
        return Gcra(rate, float(tolerance))
    raise ValueError(f"rate_limit.shape: one of {', '.join(SHAPES)}, not {shape!r}")


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"{where}: a positive number, not {value!r}")
    return float(value)
