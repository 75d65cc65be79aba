"""Fault injection decisions: rate limiting, random errors, random drops and scripted answers.

The injector only decides; the app carries the decision out. It is touched only from the
server's event loop (one thread), so it needs no lock.
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable

from offboard.sandbox.limiters import (
    Limiter,
    hint_headers,
    hint_of,
    limiter_from_spec,
    whole_seconds,
)
from offboard.sandbox.world import Faults, Scripted

RANDOM_ERROR_STATUSES = (500, 502, 503, 504)


class FaultInjector:
    def __init__(
        self,
        faults: Faults,
        clock: Callable[[], float] = time.monotonic,
        limiter: Limiter | None = None,
    ) -> None:
        """`limiter`: a server limiter model (sandbox/limiters.py) instead of the world's
        `rate_limit` (N: N accepted requests in any sliding second, or a model's spec).
        The model sees seconds since this injector was made (the sandbox's start), so a
        `changing` schedule and fixed windows count from there; a given model's 429s say
        its wait in whole seconds."""
        self.faults = faults
        start = clock()
        self._clock: Callable[[], float] = lambda: clock() - start
        self._hint: str | None = "seconds"
        if limiter is None and faults.rate_limit is not None:
            limiter = limiter_from_spec(faults.rate_limit)
            self._hint = hint_of(faults.rate_limit)
        self._limiter = limiter
        self.last_wait: float | None = None  # the model's seconds until a request is admitted
        # Seeded so a failing run can be replayed; each sandbox gets its own sequence.
        self._random = random.Random(faults.seed)
        self._scripts = {pair: collections.deque(todo) for pair, todo in faults.scripted.items()}

    def admit(self) -> bool:
        """Count the request against the rate limit; False means answer 429."""
        if self._limiter is None:
            return True
        self.last_wait = self._limiter.admit(self._clock())
        return self.last_wait is None

    def throttle_hint(self) -> tuple[dict[str, str], int | None]:
        """The last refused request's hint headers, in the world's `rate_limit.hint` style,
        and the whole seconds its message may quote (None: the 429 gives no figure)."""
        if self._hint is None:  # `rate_limit: N`: the world's fixed figure, as always
            return {"retry-after": str(self.faults.retry_after)}, self.faults.retry_after
        wait = self.last_wait or 0.0
        shown = None if self._hint == "none" else whole_seconds(wait)
        return hint_headers(self._hint, wait), shown

    def random_error(self) -> int | None:
        """A 5xx status to answer instead of handling the request, or None."""
        # Draw only when the fault is on, so enabling one fault does not shift another's sequence.
        if self.faults.error_rate and self._random.random() < self.faults.error_rate:
            return self._random.choice(RANDOM_ERROR_STATUSES)
        return None

    def random_drop(self) -> bool:
        return bool(self.faults.drop_rate) and self._random.random() < self.faults.drop_rate

    def scripted(self, account: int, user: int) -> Scripted | None:
        """The next scripted answer for a revoke of (account, user), consuming it."""
        queue = self._scripts.get((account, user))
        return queue.popleft() if queue else None
