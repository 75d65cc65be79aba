"""Work through the planned rows: at most `concurrency` in flight, one Result per Action.

What is done for a row (revoke it, or only check it for `plan`) is the `work`
function; this module owns what every row shares:

- A worker never raises: every exception except cancellation becomes the
  row's result, so one bad row cannot cancel the batch.
- Once the run is aborted (a 401, a signal, the circuit breaker), rows not yet
  sent end `not_attempted`; after a hard stop, so do the rows that were in flight.
- Rows stream through: `settled` sees each result as it happens (the journal),
  `ordered` sees them in input order through a reorder buffer, and no worker
  runs more than WINDOW rows ahead of the oldest unfinished one. Memory does not
  grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import anyio

from ..core.models import Action, Outcome, Result
from ..http.api import Api, RequestNotSent
from ..http.retry import CircuitBreaker

OnResult = Callable[[Result], None]
# Sees a row as it settles and gives back the result to keep (the journal's version of it).
OnSettled = Callable[[Result], Result]
Work = Callable[[Action, Api], Awaitable[Result]]
WINDOW = 2000  # rows a worker may run ahead of the oldest row still in flight


async def execute(actions: Iterable[Action], api: Api, concurrency: int, work: Work, *,
                  settled: OnSettled, ordered: OnResult, hard_stop: anyio.CancelScope,
                  carried: Callable[[Action], Result | None] = lambda action: None,
                  before_send: Callable[[Action], None] = lambda action: None) -> None:
    """Run every action; each result goes to `settled` (as it happens, except carried
    ones, which an earlier run already journaled) and to `ordered` (in input order)."""
    queue = enumerate(actions)
    buffer: dict[int, Result] = {}
    in_flight: dict[int, Action] = {}
    progress = {"next": 0, "taken": 0, "waiting": 0}
    moved = anyio.Event()
    breaker = CircuitBreaker(api.settings.max_consecutive_failures)

    def deliver(index: int, result: Result) -> None:
        nonlocal moved
        buffer[index] = result
        while progress["next"] in buffer:
            ordered(buffer.pop(progress["next"]))
            progress["next"] += 1
        if progress["waiting"]:  # wake workers held back by the window
            moved.set()
            moved = anyio.Event()

    async def worker() -> None:
        while True:
            while progress["taken"] - progress["next"] >= WINDOW:
                progress["waiting"] += 1
                await moved.wait()
                progress["waiting"] -= 1
            # Taking the next row never awaits, so no two workers take the same row.
            taken = next(queue, None)
            if taken is None:
                return
            index, action = taken
            progress["taken"] += 1
            result = carried(action)
            if result is None:
                if action.send and not api.abort_reason:
                    before_send(action)
                in_flight[index] = action
                result = await settle(action, api, work)
                del in_flight[index]
                result = settled(result)
                if action.send and breaker.record(_server_failure(result)):
                    api.abort(f"circuit breaker: {breaker.consecutive} rows in a row failed on "
                              "5xx or network errors, the API looks down; continue later "
                              "with --resume")
            deliver(index, result)

    with hard_stop:
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
    # After a hard stop: the rows cut off in flight, then every row never taken.
    if hard_stop.cancelled_caught:
        api.abort("stopped at once")
    for index in sorted(in_flight):
        result = settled(not_attempted(in_flight.pop(index), api.abort_reason))
        deliver(index, result)
    for index, action in queue:
        result = carried(action) or settled(await settle(action, api, work))
        deliver(index, result)


async def settle(action: Action, api: Api, work: Work) -> Result:
    """The result of one row; never raises (but lets cancellation through)."""
    if not action.send:
        return Result.decided(action)
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
    except Exception as exc:  # a row's failure must not end the batch
        return Result(action.row, Outcome.FAILED, action.account, action.user_id,
                      message=f"internal error: {type(exc).__name__}")


def _server_failure(result: Result) -> bool:
    """The row used up its attempts on 5xx answers or network errors."""
    status = result.http_status
    return result.outcome is Outcome.FAILED and result.attempts > 0 and (
        status is None or status >= 500)


def not_attempted(action: Action, reason: str) -> Result:
    return Result.decided(action.unsent(reason))
