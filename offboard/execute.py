"""Work through the planned rows: at most `concurrency` in flight, one Result per Action.

What is done for a row (revoke it, or only check it for `plan`) is the `work`
function; this module owns what every row shares. A worker never raises: every
exception except cancellation becomes the row's result, so one bad row cannot
cancel the batch. Once the run is aborted (a 401), rows not yet sent end
`not_attempted`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio

from .api import Api, RequestNotSent
from .models import Action, Outcome, Result
from .retry import CircuitBreaker

OnResult = Callable[[Result], None]
Work = Callable[[Action, Api], Awaitable[Result]]


async def execute(actions: Sequence[Action], api: Api, concurrency: int, work: Work,
                  on_result: OnResult, results: list[Result | None],
                  before_send: Callable[[Action], None] = lambda action: None) -> None:
    """Fill `results` (input order) as rows settle, calling `on_result` for each.

    Rows whose slot is already filled (carried over by a resume) are skipped.
    If the run is cancelled, the slots of unfinished rows stay None.
    """
    queue = iter(enumerate(actions))
    breaker = CircuitBreaker(api.settings.max_consecutive_failures)

    async def worker() -> None:
        # Workers share one iterator: taking the next row never awaits, so no
        # two workers can take the same row.
        for index, action in queue:
            if results[index] is not None:
                continue
            if action.send and not api.abort_reason:
                before_send(action)
            result = await settle(action, api, work)
            results[index] = result
            on_result(result)
            if action.send and breaker.record(_server_failure(result)):
                api.abort(f"circuit breaker: {breaker.consecutive} rows in a row failed on 5xx or "
                          "network errors, the API looks down; continue later with --resume")

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(actions)) or 1):
            group.start_soon(worker)


async def settle(action: Action, api: Api, work: Work) -> Result:
    """The result of one row; never raises (but lets cancellation through)."""
    if not action.send:
        assert action.outcome is not None
        return Result(action.row, action.outcome, action.account, action.user_id,
                      message=action.message)
    if api.abort_reason:
        return not_attempted(action, api.abort_reason)
    try:
        return await work(action, api)
    except RequestNotSent as exc:
        if exc.attempts == 0:
            return not_attempted(action, api.abort_reason)
        return Result(action.row, Outcome.FAILED, action.account, action.user_id,
                      attempts=exc.attempts,
                      message=f"run aborted before retrying: {api.abort_reason}")
    except Exception as exc:
        return Result(action.row, Outcome.FAILED, action.account, action.user_id,
                      message=f"internal error: {type(exc).__name__}")


def _server_failure(result: Result) -> bool:
    """The row used up its attempts on 5xx answers or network errors."""
    status = result.http_status
    return result.outcome is Outcome.FAILED and result.attempts > 0 and (
        status is None or status >= 500)


def not_attempted(action: Action, reason: str) -> Result:
    return Result(action.row, Outcome.NOT_ATTEMPTED, action.account, action.user_id,
                  message=f"not sent: {reason}")
