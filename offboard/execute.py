"""Send the planned revokes: at most `concurrency` in flight, one Result per Action.

A worker never raises: every exception except cancellation becomes a row's
result, so one bad row cannot cancel the batch. Once the run is aborted (a
401), rows not yet sent end `not_attempted`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from .api import Api, RequestNotSent
from .classify import classify
from .models import Action, Outcome, Result

OnResult = Callable[[Result], None]


async def execute(actions: Sequence[Action], api: Api, concurrency: int,
                  on_result: OnResult) -> list[Result]:
    """Results in input order; `on_result` is called as each row settles."""
    results: list[Result | None] = [None] * len(actions)
    queue = iter(enumerate(actions))

    async def worker() -> None:
        # Workers share one iterator: taking the next row never awaits, so no
        # two workers can take the same row.
        for index, action in queue:
            result = await settle(action, api)
            results[index] = result
            on_result(result)

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(actions)) or 1):
            group.start_soon(worker)
    return [result or not_attempted(action, "the run stopped")
            for result, action in zip(results, actions, strict=True)]


async def settle(action: Action, api: Api) -> Result:
    """The result of one row; never raises (but lets cancellation through)."""
    row, account, user_id = action.row, action.account, action.user_id
    if not action.send:
        assert action.outcome is not None
        return Result(row, action.outcome, account, user_id, message=action.message)
    assert account is not None and user_id is not None
    if api.abort_reason:
        return not_attempted(action, api.abort_reason)
    try:
        exchange = await api.revoke(account, user_id)
    except RequestNotSent as exc:
        if exc.attempts == 0:
            return not_attempted(action, api.abort_reason)
        return Result(row, Outcome.FAILED, account, user_id, attempts=exc.attempts,
                      message=f"run aborted before retrying: {api.abort_reason}")
    except Exception as exc:
        return Result(row, Outcome.FAILED, account, user_id,
                      message=f"internal error: {type(exc).__name__}")
    outcome, message = classify(exchange)
    return Result(row, outcome, account, user_id, exchange.status, exchange.attempts,
                  exchange.request_id, message)


def not_attempted(action: Action, reason: str) -> Result:
    return Result(action.row, Outcome.NOT_ATTEMPTED, action.account, action.user_id,
                  message=f"not sent: {reason}")
