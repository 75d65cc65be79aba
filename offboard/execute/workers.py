"""Work through the planned rows: at most `concurrency` in flight, one result per row.

What is done for a row (revoke it, only check it for `plan`, or invite it back for
`restore`) is the `work` function; this module owns what every row shares, for `run`,
`plan` and `restore` alike (`RowKind` says how a kind of row sends and ends):

- A worker never raises: every exception except cancellation becomes the
  row's result, so one bad row cannot cancel the batch.
- Once the run is aborted (a 401, a signal, the circuit breaker), rows not yet
  sent end `not_attempted`; after a hard stop, so do the rows that were in flight.
- Rows stream through: `subscribers` hear of each result as it settles (the
  marks, then the journal, then the log and the progress bar: core/sinks.py says
  why in that order and what a subscriber's exception does), `ordered` sees them
  in input order through a reorder buffer, and no worker
  runs more than WINDOW rows ahead of the oldest unfinished one. Memory does not
  grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import anyio

from ..core.models import Action, Outcome, Result
from ..core.sinks import Subscribers
from ..http.api import Api, RequestNotSent
from ..http.retry import CircuitBreaker


class Answered(Protocol):
    """What the circuit breaker reads of a settled row, whatever its kind."""

    @property
    def attempts(self) -> int: ...

    @property
    def http_status(self) -> int | None: ...


T = TypeVar("T")  # one row's planned work (a run's Action, a restore's Step)
R = TypeVar("R", bound=Answered)  # how it ended (a run's Result, a restore's Restored)


@dataclass(frozen=True, slots=True)
class RowKind(Generic[T, R]):
    """What the executor needs to know of one kind of row: whether it sends a request,
    and the results it makes itself, for the rows `work` never sees or that it lost."""

    sends: Callable[[T], bool]
    unsent: Callable[[T], R]  # a row that sends nothing: its outcome is decided already
    not_attempted: Callable[[T, str], R]  # (row, why the run stopped): never sent
    failed: Callable[[T, int, str], R]  # (row, attempts, message): the row failed
    ended_failed: Callable[[R], bool]  # its outcome is this kind's `failed`

    def server_failure(self, result: R) -> bool:
        """The row failed after using up its attempts on 5xx answers or network errors (no
        status): what the circuit breaker counts, for every kind of row."""
        status = result.http_status
        return (
            self.ended_failed(result) and result.attempts > 0 and (status is None or status >= 500)
        )


OnResult = Callable[[Result], None]
Work = Callable[[Action, Api], Awaitable[Result]]
WINDOW = 2000  # rows a worker may run ahead of the oldest row still in flight


def not_attempted(action: Action, reason: str) -> Result:
    return Result.decided(action.unsent(reason))


def _failed(action: Action, attempts: int, message: str) -> Result:
    return Result(
        action.row,
        Outcome.FAILED,
        action.account,
        action.user_id,
        attempts=attempts,
        message=message,
        account_name=action.account_name,
        everywhere=action.everywhere,
    )


# `run` and `plan`: an Action sends unless the plan already decided its outcome.
ACTIONS: RowKind[Action, Result] = RowKind(
    lambda action: action.send,
    Result.decided,
    not_attempted,
    _failed,
    lambda result: result.outcome is Outcome.FAILED,
)


async def execute(
    actions: Iterable[Action],
    api: Api,
    concurrency: int,
    work: Work,
    *,
    subscribers: Subscribers,
    ordered: OnResult,
    hard_stop: anyio.CancelScope,
    carried: Callable[[Action], Result | None] = lambda action: None,
    before_send: Callable[[Action], None] = lambda action: None,
) -> None:
    """Run every action of a `run` or `plan` (see execute_rows)."""
    await execute_rows(
        ACTIONS,
        actions,
        api,
        concurrency,
        work,
        settled=subscribers.settle,
        ordered=ordered,
        hard_stop=hard_stop,
        carried=carried,
        before_send=before_send,
    )


async def execute_rows(
    kind: RowKind[T, R],
    rows: Iterable[T],
    api: Api,
    concurrency: int,
    work: Callable[[T, Api], Awaitable[R]],
    *,
    settled: Callable[[R], R],
    ordered: Callable[[R], None],
    hard_stop: anyio.CancelScope,
    carried: Callable[[T], R | None] = lambda row: None,
    before_send: Callable[[T], None] = lambda row: None,
) -> None:
    """Run every row; each result goes to `settled` (as it happens, except carried ones,
    which an earlier run already journaled) and to `ordered` (in input order)."""
    queue = enumerate(rows)
    buffer: dict[int, R] = {}
    in_flight: dict[int, T] = {}
    progress = {"next": 0, "taken": 0, "waiting": 0}
    moved = anyio.Event()
    breaker = CircuitBreaker(api.settings.max_consecutive_failures)

    def deliver(index: int, result: R) -> None:
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
            index, row = taken
            progress["taken"] += 1
            result = carried(row)
            if result is None:
                sends = kind.sends(row)
                if sends and not api.abort_reason:
                    before_send(row)
                in_flight[index] = row
                result = await settle_row(kind, row, api, work)
                del in_flight[index]
                result = settled(result)
                if sends and breaker.record(kind.server_failure(result)):
                    api.abort(
                        f"circuit breaker: {breaker.consecutive} rows in a row failed on "
                        "5xx or network errors, the API looks down; continue later "
                        "with --resume"
                    )
            deliver(index, result)

    with hard_stop:
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
    # After a hard stop: the rows cut off in flight, then every row never taken.
    if hard_stop.cancelled_caught:
        api.abort("stopped at once")
    for index in sorted(in_flight):
        deliver(index, settled(kind.not_attempted(in_flight.pop(index), api.abort_reason)))
    for index, row in queue:
        result = carried(row) or settled(await settle_row(kind, row, api, work))
        deliver(index, result)


async def settle(action: Action, api: Api, work: Work) -> Result:
    """The result of one row of a `run` or `plan`; never raises (see settle_row)."""
    return await settle_row(ACTIONS, action, api, work)


async def settle_row(
    kind: RowKind[T, R], row: T, api: Api, work: Callable[[T, Api], Awaitable[R]]
) -> R:
    """The result of one row; never raises (but lets cancellation through)."""
    if not kind.sends(row):
        return kind.unsent(row)
    if api.abort_reason:
        return kind.not_attempted(row, api.abort_reason)
    try:
        return await work(row, api)
    except RequestNotSent as exc:
        if exc.attempts == 0:
            return kind.not_attempted(row, api.abort_reason)
        return kind.failed(row, exc.attempts, f"run aborted before retrying: {api.abort_reason}")
    except Exception as exc:  # a row's failure must not end the batch
        return kind.failed(row, 0, f"internal error: {type(exc).__name__}")
