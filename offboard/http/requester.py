"""One logical request to the Gcore API: limited, retried, recorded, and stopped by the
run's abort.

`Requester.request` runs tenacity over single attempts. Every attempt first takes a slot from
the one shared RateLimiter, so retries cannot go around it. Attempts never raise for HTTP or
network trouble: http/wire.py sends each one and returns an `Attempt`, and tenacity decides on
that value. A long streak of 429s, or a 401, aborts the run (`RequestNotSent` from then on).

Apart from http/api.py, which names the endpoints and reads their answers: this is the
machinery every endpoint shares, and it knows no path.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base

from ..core.clock import AnyioClock, Clock
from ..core.models import Exchange
from ..core.settings import Settings, redact
from ..rate.limiter import RateLimiter
from ..rate.pause import checked_retry_after, too_long
from .connections import Connections
from .exchange import Heard
from .retry import RetryBudget, backoff
from .wire import Attempt, send

# A server answering 429 to everything is refusing the key, not pacing it: after this many
# 429s in a row, over at least this long, with no answer accepted in between, the run stops
# (rows not yet sent end `not_attempted`; --resume continues later) instead of grinding
# through max_attempts x rows with pauses. A limiter that admits anything at all resets it.
THROTTLED_STREAK = 5
THROTTLED_SPAN = 10.0  # seconds


class RequestNotSent(Exception):
    """The run was aborted (a 401, 429s only) before this request's next attempt went out.

    `attempts` counts those the server may have acted on: a 429 is a refusal before any
    work, so a request refused only with 429s counts as never sent (`not_attempted`)."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"run aborted after {attempts} attempts")
        self.attempts = attempts


OnRetry = Callable[[str, str, int, str, float], None]
"""(method, path, attempt number, what went wrong, seconds until the next attempt)"""


class Requester:
    """The request machinery of one run's Api: its limiter, retry budget, counts and abort."""

    def __init__(
        self,
        settings: Settings,
        client: Connections,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.settings = settings
        self._client = client
        self._clock = clock or AnyioClock()
        self._rng = rng or random.Random()
        self._on_retry = on_retry
        self.limiter = RateLimiter(settings.rate, self._clock, concurrency=settings.concurrency)
        self.abort_reason = ""
        self.statuses: Counter[str] = Counter()  # answers by status ("error": none), for metrics
        self.retries = 0
        self.budget = RetryBudget()
        self._refused = 0  # 429s since the last answer that was not a 429
        self._refused_since = 0.0  # when the first of them came
        self._waits: set[anyio.CancelScope] = set()  # waits an abort cuts short

    def abort(self, reason: str) -> None:
        """Send nothing more: rows not yet sent end `not_attempted` with this reason."""
        self.abort_reason = self.abort_reason or reason
        for scope in self._waits:  # requests queued behind the limiter or a retry wait
            scope.cancel()

    async def _take_turn(self, started: list[float]) -> None:
        """The limiter's turn for one request: its start time goes into `started`."""
        started.append(await self.limiter.acquire())

    async def _wait(self, waiting: Callable[[], Awaitable[None]]) -> None:
        """Await `waiting` unless the run is aborted meanwhile (then return at once)."""
        if self.abort_reason:
            return
        with anyio.CancelScope() as scope:
            self._waits.add(scope)
            try:
                await waiting()
            finally:
                self._waits.discard(scope)

    @property
    def clock(self) -> Clock:
        return self._clock

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        suspect: bool = False,
        body: Any = None,
        heard: Heard | None = None,
    ) -> Exchange:
        """One logical request with retries; raises RequestNotSent once aborted. `heard` is
        awaited with each attempt's status once its head is in (http/connections.py)."""
        history: list[Attempt] = []
        spent: list[int] = []  # retry-budget tokens this request took
        notes: list[str] = []

        async def attempt() -> Attempt:
            if self.abort_reason:
                raise RequestNotSent(_tried(history))
            started: list[float] = []
            await self._wait(lambda: self._take_turn(started))
            if self.abort_reason or not started:
                raise RequestNotSent(_tried(history))
            result = await send(self._client, self.settings, method, path, params, body, heard)
            history.append(result)
            self.statuses[str(result.status or "error")] += 1
            note = f" ({result.ignored_hint})"
            # Only where the hint would have been used, and once: the row's message is short.
            if result.ignored_hint and result.retryable and note not in notes:
                notes.append(note)
            if result.status == 401:
                self.abort("the API rejected the API key (401)")
            elif result.status is not None and result.status != 429:
                self._refused = 0
            if result.status == 429:
                self._count_refusal()
                # The whole run backs off, not only this request, by rate/pause.py's rule
                # (a wait past the cap fails this row: see asked_to_wait_too_long).
                self.limiter.throttled(started[0], result.retry_after)
            else:
                self.limiter.answered(started[0], result.status)
            return result

        def out_of_budget(state: RetryCallState) -> bool:
            last = _last(state)
            if last.status == 429:
                return False  # the limiter deals with throttling
            cost = self.budget.spend(timeout=last.timed_out)
            if not cost:
                notes.append(
                    " (not retried: the run's retry budget is spent, the API is failing broadly)"
                )
                return True
            spent.append(cost)
            return False

        def asked_to_wait_too_long(state: RetryCallState) -> bool:
            wait = _last(state).retry_after
            if not too_long(wait):
                return False
            notes.append(f" ({checked_retry_after(wait)[1]})")
            return True

        last: Attempt = await attempt()
        if last.retryable:
            # Most requests end at their first attempt; tenacity's machinery (and its
            # per-call inspection of callables) is set up only for those that need it.
            # It then sees the first attempt as its own attempt 1, so its stops, waits and
            # numbering are exactly those of a loop it ran from the start.
            first = [last]

            async def again() -> Attempt:
                return first.pop() if first else await attempt()

            last = await self._retrying_loop(method, path, asked_to_wait_too_long, out_of_budget)(
                again
            )
        if last.status is not None and last.status < 500 and last.status != 429:
            self.budget.succeeded(sum(spent))
        return Exchange(
            status=last.status,
            attempts=len(history),
            message=last.message,
            request_id=last.request_id,
            error=last.error,
            maybe_applied=suspect or any(a.may_have_acted for a in history[:-1]),
            retry_after=last.retry_after,
            note="".join(notes),
            body=last.body,
        )

    def _retrying_loop(
        self,
        method: str,
        path: str,
        asked_to_wait_too_long: Callable[[RetryCallState], bool],
        out_of_budget: Callable[[RetryCallState], bool],
    ) -> AsyncRetrying:
        return AsyncRetrying(
            sleep=lambda seconds: self._wait(lambda: self._clock.sleep(seconds)),
            # Evaluated in order, and only as far as needed: the budget is spent last.
            stop=stop_after_attempt(self.settings.max_attempts)
            | _Stop(asked_to_wait_too_long)
            | _Stop(out_of_budget),
            wait=lambda state: self._wait_for(_last(state), state.attempt_number),
            retry=retry_if_result(lambda a: a.retryable),
            retry_error_callback=_last,
            before_sleep=lambda state: self._retrying(method, path, state),
        )

    def _count_refusal(self) -> None:
        """One more 429 in a row: abort the run once the streak is long in count and time."""
        now = self._clock.now()
        if not self._refused:
            self._refused_since = now
        self._refused += 1
        span = now - self._refused_since
        if self._refused >= THROTTLED_STREAK and span >= THROTTLED_SPAN:
            self.abort(
                f"the API answered 429 (rate limited) to all of the last "
                f"{self._refused} requests over {span:.0f} s and accepted none; "
                "it is refusing this key, continue later with --resume"
            )

    def _retrying(self, method: str, path: str, state: RetryCallState) -> None:
        self.retries += 1
        if self._on_retry is not None:
            last = _last(state)
            reason = f"HTTP {last.status}" if last.status is not None else last.error
            if last.ignored_hint:
                reason += f" ({last.ignored_hint})"
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            self._on_retry(method, path, state.attempt_number, reason, delay)

    def _wait_for(self, attempt: Attempt, attempt_number: int) -> float:
        if attempt.status == 429:
            # The same rule, and so the same wait, as the run-wide pause the controller took.
            return checked_retry_after(attempt.retry_after)[0]
        if attempt.retry_after is not None:
            return attempt.retry_after
        return backoff(attempt_number, self._rng)

    def _redact(self, text: str) -> str:
        return redact(text, self.settings.api_key)


def _tried(history: list[Attempt]) -> int:
    """Attempts the server did not refuse with a 429 (see RequestNotSent)."""
    return sum(1 for a in history if a.status != 429)


def _last(state: RetryCallState) -> Attempt:
    assert state.outcome is not None
    result: Attempt = state.outcome.result()
    return result


class _Stop(stop_base):
    """A tenacity stop condition from a plain function."""

    def __init__(self, check: Callable[[RetryCallState], bool]) -> None:
        self._check = check

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._check(retry_state)
