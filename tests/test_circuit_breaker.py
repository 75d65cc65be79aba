"""The circuit breaker trips exactly at N consecutive failed rows, not one row late
(execute() with Revoker over a MockTransport, one row at a time)."""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio
import httpx
import pytest

from offboard.core.models import Action, Outcome, Result, Row
from offboard.core.restore_record import RestoreOutcome
from offboard.core.sinks import Subscribers
from offboard.execute.revoke import Revoker
from offboard.execute.workers import ACTIONS, execute
from offboard.http.api import Api, make_client
from offboard.http.retry import CircuitBreaker
from offboard.restore.invite import kind
from offboard.restore.plan import Restored, Revoked

from .helpers import FakeClock, routed, settings

ACCOUNT = 10


class Unheard:
    """A journal that keeps nothing: these tests read the rows in order."""

    def settled(self, result: Result) -> None:
        pass


def run_rows(
    users: list[int], answer: Callable[[int], int], threshold: int
) -> tuple[list[Outcome], list[int], str]:
    """Revoke `users` in ACCOUNT one at a time, the DELETE for user u answered answer(u):
    (outcomes in row order, users whose DELETE was sent, the abort reason)."""
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(answer(int(request.url.path.rsplit("/", 1)[1])))

    config = settings(concurrency=1, max_attempts=1, max_consecutive_failures=threshold)
    actions = [Action(Row(n + 2, str(ACCOUNT), str(u)), ACCOUNT, u) for n, u in enumerate(users)]
    ordered: list[Result] = []

    async def go() -> str:
        async with make_client(config, routed(route, seen)) as client:
            api = Api(config, client, FakeClock(), random.Random(1))
            await execute(
                actions,
                api,
                1,
                Revoker(),
                subscribers=Subscribers(Unheard()),
                ordered=ordered.append,
                hard_stop=anyio.CancelScope(),
            )
            return api.abort_reason

    reason = anyio.run(go)
    sent = [int(r.url.path.rsplit("/", 1)[1]) for r in seen if r.method == "DELETE"]
    return [r.outcome for r in ordered], sent, reason


def test_trips_at_exactly_n_consecutive_failed_rows() -> None:
    """N=3, every revoke 503 (one attempt): rows 1-3 failed, the other 5 not_attempted, and
    exactly 3 DELETEs sent."""
    outcomes, sent, reason = run_rows(list(range(100, 108)), lambda user: 503, threshold=3)
    assert outcomes == [Outcome.FAILED] * 3 + [Outcome.NOT_ATTEMPTED] * 5
    assert sent == [100, 101, 102]
    assert reason.startswith("circuit breaker: 3 rows in a row failed")


def test_a_row_that_succeeds_resets_the_count() -> None:
    """fail, fail, ok, then fail x3: the breaker trips on the sixth row, not the third."""
    outcomes, sent, _ = run_rows(
        list(range(100, 110)), lambda user: 200 if user == 102 else 503, threshold=3
    )
    assert outcomes == [
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.REVOKED,
        *[Outcome.FAILED] * 3,
        *[Outcome.NOT_ATTEMPTED] * 4,
    ]
    assert sent == list(range(100, 106))


def test_answers_that_are_not_server_failures_reset_it_too() -> None:
    """A 404 or a 403 between 5xx rows is not the API being down: N=2 never trips on
    503, 404, 503, 403, 503."""
    answers = {100: 503, 101: 404, 102: 503, 103: 403, 104: 503}
    outcomes, sent, reason = run_rows(list(answers), answers.__getitem__, threshold=2)
    assert Outcome.NOT_ATTEMPTED not in outcomes and reason == ""
    assert sent == list(answers)


@pytest.mark.parametrize("threshold", [1, 2, 5])
def test_the_breaker_trips_on_the_nth_failure(threshold: int) -> None:
    """CircuitBreaker.record is False for failures 1..N-1 and True at the Nth."""
    breaker = CircuitBreaker(threshold)
    tripped = [breaker.record(True) for _ in range(threshold)]
    assert tripped == [False] * (threshold - 1) + [True]


# (failed?, attempts, HTTP status of the last attempt) -> counted by the breaker?
SERVER_FAILURES = [
    (True, 3, 503, True),
    (True, 1, 500, True),
    (True, 2, None, True),  # network errors: no status
    (True, 3, 429, False),
    (True, 1, 404, False),
    (True, 0, None, False),  # never sent (a worker that raised before its request)
    (False, 3, 503, False),
    (False, 1, None, False),
]


@pytest.mark.parametrize(("failed", "attempts", "status", "counted"), SERVER_FAILURES)
def test_a_run_row_and_a_restore_row_trip_the_breaker_on_the_same_rule(
    failed: bool, attempts: int, status: int | None, counted: bool
) -> None:
    """The breaker counts a failed row with attempts made and a 5xx or no answer, for a
    run's Result and a restore's Restored alike."""
    result = Result(
        Row(2, "10", "7"),
        Outcome.FAILED if failed else Outcome.REVOKED,
        10,
        7,
        http_status=status,
        attempts=attempts,
    )
    revoked = Revoked(2, 10, 7, "a@t.example", "A", "en", 2, False, ())
    restored = Restored(
        revoked,
        RestoreOutcome.FAILED if failed else RestoreOutcome.RESTORED,
        "",
        http_status=status,
        attempts=attempts,
    )
    assert ACTIONS.server_failure(result) is counted
    assert kind(plan=False).server_failure(restored) is counted
