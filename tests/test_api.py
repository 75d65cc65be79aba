"""Api: retries, waits, the shared limiter and the user list, over httpx.MockTransport."""

import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar, overload

import anyio
import httpx
import pytest

from offboard.core.models import Exchange
from offboard.execute.classify import classify
from offboard.http.api import Api, DirectoryError, OnRetry, RequestNotSent, make_client
from offboard.http.retry import RETRY_AFTER_CAP, backoff, retry_after
from offboard.rate.pause import NO_HINT_PAUSE

from .helpers import FakeClock, routed, scripted, settings

URL = "/iam/clients/7/client-users/9"


T = TypeVar("T")


def revoke_one(api: Api) -> Awaitable[Exchange]:
    """call()'s default coroutine: one revoke of user 9 in account 7."""
    return api.revoke(7, 9)


# The overload taking `coro` comes first: the other's **overrides would swallow it.
@overload
def call(
    transport: httpx.AsyncBaseTransport,
    *,
    clock: FakeClock | None = None,
    coro: Callable[[Api], Awaitable[T]],
    on_retry: OnRetry | None = None,
    **overrides: Any,
) -> tuple[T, Api, FakeClock]: ...


@overload
def call(
    transport: httpx.AsyncBaseTransport,
    *,
    clock: FakeClock | None = None,
    on_retry: OnRetry | None = None,
    **overrides: Any,
) -> tuple[Exchange, Api, FakeClock]: ...


def call(
    transport: httpx.AsyncBaseTransport,
    *,
    clock: FakeClock | None = None,
    coro: Callable[[Api], Awaitable[Any]] = revoke_one,
    on_retry: OnRetry | None = None,
    **overrides: Any,
) -> tuple[Any, Api, FakeClock]:
    """Run one coroutine against an Api built on `transport`; return (result, api, clock)."""
    clock = clock or FakeClock()
    config = settings(**overrides)

    async def go() -> tuple[Any, Api]:
        async with make_client(config, transport) as client:
            api = Api(config, client, clock, random.Random(1), on_retry)
            return await coro(api), api

    result, api = anyio.run(go)
    return result, api, clock


def test_retries_5xx_then_succeeds_with_backoff():
    """503, 503, 200: revoked on the third attempt after two jittered, growing waits."""
    exchange, _, clock = call(
        scripted([httpx.Response(503), httpx.Response(503), httpx.Response(200)])
    )
    assert (exchange.status, exchange.attempts) == (200, 3)
    waits = [s for s in clock.sleeps if s > 0.01]
    assert len(waits) == 2
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_gives_up_after_max_attempts():
    """A persistent 502 is tried exactly max_attempts times and the last answer kept."""
    exchange, _, _ = call(
        scripted([httpx.Response(502, json={"message": "bad gw"})] * 3), max_attempts=3
    )
    assert (exchange.status, exchange.attempts, exchange.message) == (502, 3, "bad gw")


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_4xx_are_never_retried(status):
    """Any 4xx but 429 is final at once."""
    seen: list[httpx.Request] = []
    exchange, _, _ = call(scripted([httpx.Response(status)] * 2, seen))
    assert (exchange.status, exchange.attempts, len(seen)) == (status, 1, 1)


def test_retry_after_seconds_is_honoured_and_pauses_the_whole_run():
    """A 429 with Retry-After: 7 waits 7 s and holds the shared limiter for 7 s."""
    clock = FakeClock()
    exchange, api, _ = call(
        scripted([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)]),
        clock=clock,
    )
    assert exchange.status == 200
    assert 7.0 in clock.sleeps
    assert api.limiter.controller.resume_at == pytest.approx(7.0)


def test_retry_after_ms_wins_over_backoff():
    """retry-after-ms: 1500 means a 1.5 s wait."""
    _, _, clock = call(
        scripted([httpx.Response(503, headers={"retry-after-ms": "1500"}), httpx.Response(200)])
    )
    assert 1.5 in clock.sleeps


def test_retry_after_http_date():
    """Retry-After as an HTTP date is turned into seconds from now."""
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after({"retry-after": when}, now) == pytest.approx(30)
    assert retry_after({"retry-after": "nonsense"}) is None
    assert retry_after({"retry-after": "-3"}) is None


def test_a_very_long_retry_after_fails_the_row_instead_of_hanging():
    """Retry-After beyond 120 s stops the retries; the row keeps the server's figure."""
    exchange, _, clock = call(scripted([httpx.Response(429, headers={"Retry-After": "3600"})]))
    assert (exchange.status, exchange.attempts, exchange.retry_after) == (429, 1, 3600)
    assert "asked to wait 3600 s" in exchange.note
    assert 3600 not in clock.sleeps


# -- Retry-After values that cannot be taken at their word (see http/retry.py) ---------------


def retries_logged(
    transport: httpx.AsyncBaseTransport, **overrides: Any
) -> tuple[Exchange, Api, FakeClock, list[tuple[str, float]]]:
    """(exchange, api, clock, [(reason, wait) of each retry, as its log line gets them])."""
    retries: list[tuple[str, float]] = []
    exchange, api, clock = call(
        transport,
        on_retry=lambda m, p, n, reason, wait: retries.append((reason, wait)),
        **overrides,
    )
    return exchange, api, clock, retries


def backoffs(count: int) -> list[float]:
    """The waits the jittered backoff takes with no usable hint, under call()'s seed."""
    rng = random.Random(1)
    return [backoff(n, rng) for n in range(1, count + 1)]


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "soon", ""])
def test_an_unusable_retry_after_is_ignored_and_the_retry_says_so(value):
    """Negative, NaN, infinite or garbage: the retry waits what the run-wide pause does, the
    1 s of a 429 without a usable hint (one rule, rate/pause.py's, for both), and its log line
    names the ignored value."""
    exchange, api, clock, retries = retries_logged(
        scripted([httpx.Response(429, headers={"Retry-After": value}), httpx.Response(200)])
    )
    assert (exchange.status, exchange.attempts) == (200, 2)
    assert [reason for reason, _ in retries] == [
        f"HTTP 429 (ignored an unusable Retry-After ({value!r}))"
    ]
    assert [wait for _, wait in retries] == [NO_HINT_PAUSE]
    assert clock.sleeps[0] == NO_HINT_PAUSE
    # The run-wide pause: the same wait, so the retry starts as the pause ends.
    assert api.limiter.controller.resume_at == pytest.approx(NO_HINT_PAUSE)
    assert clock.time == pytest.approx(NO_HINT_PAUSE)


def test_an_unusable_retry_after_ms_is_ignored_too():
    exchange, _, clock, retries = retries_logged(
        scripted([httpx.Response(503, headers={"retry-after-ms": "abc"}), httpx.Response(200)])
    )
    assert exchange.status == 200
    assert [s for s in clock.sleeps if s > 0.01] == [pytest.approx(backoffs(1)[0])]
    assert [reason for reason, _ in retries] == [
        "HTTP 503 (ignored an unusable retry-after-ms ('abc'))"
    ]
    assert [wait for _, wait in retries] == pytest.approx(backoffs(1))


def test_a_row_that_fails_on_unusable_hints_says_so_once_in_its_message():
    """Every attempt with garbage: the row's message names it once, not once per attempt."""
    exchange, _, _, retries = retries_logged(
        scripted([httpx.Response(429, headers={"Retry-After": "-1"})] * 3), max_attempts=3
    )
    assert (exchange.status, exchange.attempts) == (429, 3)
    assert [wait for _, wait in retries] == [NO_HINT_PAUSE] * 2
    assert exchange.note == " (ignored an unusable Retry-After ('-1'))"
    _, message = classify(exchange)
    assert (
        message == "gave up after 3 attempts; last answer 429 (ignored an unusable "
        "Retry-After ('-1'))"
    )


def test_a_retry_after_date_in_the_past_retries_at_once():
    """Only the server's clock: wait 0 s, no note."""
    past = format_datetime(datetime.now(UTC) - timedelta(days=2), usegmt=True)
    exchange, _, clock, retries = retries_logged(
        scripted([httpx.Response(429, headers={"Retry-After": past}), httpx.Response(200)])
    )
    assert (exchange.status, exchange.attempts, exchange.note) == (200, 2, "")
    assert retries == [("HTTP 429", 0.0)] and clock.time < 0.01


NEXT_YEAR = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("121", "121 s"),
        ("7200", "7200 s"),
        ("86400", "86400 s"),
        (str(10**12), "more than a day"),
        ("99999999999999999999", "more than a day"),
        ("1e308", "more than a day"),
        # An id, not the date: xdist's workers must collect the same test names.
        pytest.param(NEXT_YEAR, "more than a day", id="a date next year"),
    ],
)
def test_a_retry_after_over_the_cap_fails_the_row_naming_a_readable_figure(value, shown):
    """Over RETRY_AFTER_CAP (an hour or far more): not retried, not slept, the run not held for
    the server's figure (only the pause of a 429 without a usable hint, 1 s), and the message
    gives the figure plainly (never 1e+308 s)."""
    exchange, api, clock = call(scripted([httpx.Response(429, headers={"Retry-After": value})]))
    assert (exchange.status, exchange.attempts) == (429, 1)
    assert exchange.retry_after is not None and exchange.retry_after > RETRY_AFTER_CAP
    assert clock.time < 0.01 and api.limiter.controller.resume_at == NO_HINT_PAUSE
    assert exchange.note == (
        f" (the API asked to wait {shown}; offboard waits at most {RETRY_AFTER_CAP:g} s)"
    )
    assert "e+" not in classify(exchange)[1]


@pytest.mark.parametrize(
    "value",
    ["", " ", "1,2", "  3 ", "٣", "été", "​", "0x10", "1_0", "Mon, 32 Jan 2026 25:00:00 GMT"],
)
def test_no_retry_after_value_raises(value):
    """Whatever the header holds, the request ends with an answer, never a traceback."""
    response = httpx.Response(503, headers=[(b"Retry-After", value.encode())])  # raw bytes
    exchange, _, clock = call(scripted([response, httpx.Response(200)]))
    assert exchange.status == 200
    if value == "  3 ":
        assert 3.0 in clock.sleeps


def test_backoff_is_capped_and_jittered():
    """Waits grow exponentially but never pass the cap; two seeds give different waits."""
    rng = random.Random(3)
    assert all(backoff(n, rng) <= 30 for n in range(1, 40))
    assert backoff(2, random.Random(1)) != backoff(2, random.Random(2))


def test_401_aborts_and_nothing_more_is_sent():
    """After a 401 the next request is refused locally: RequestNotSent, no HTTP."""
    seen: list[httpx.Request] = []

    async def two(api):
        first = await api.revoke(1, 2)
        with pytest.raises(RequestNotSent):
            await api.revoke(3, 4)
        return first

    exchange, api, _ = call(scripted([httpx.Response(401)] * 2, seen), coro=two)
    assert exchange.status == 401 and len(seen) == 1 and "401" in api.abort_reason


def test_dropped_connection_then_404_is_marked_maybe_applied():
    """A revoke that lost its answer and then got 404 may have been applied."""
    exchange, _, _ = call(scripted([httpx.RemoteProtocolError("peer closed"), httpx.Response(404)]))
    assert (exchange.status, exchange.maybe_applied) == (404, True)


def test_5xx_then_404_is_marked_maybe_applied():
    """A 5xx may follow a change on the server, so a later 404 is not trusted."""
    exchange, _, _ = call(scripted([httpx.Response(500), httpx.Response(404)]))
    assert exchange.maybe_applied


def test_connect_error_then_404_is_plain_missing():
    """A request that never connected cannot have been applied."""
    exchange, _, _ = call(scripted([httpx.ConnectError("refused"), httpx.Response(404)]))
    assert (exchange.status, exchange.maybe_applied) == (404, False)


def test_429_then_404_is_plain_missing():
    """A 429 is a refusal before any work, so a later 404 is trusted."""
    exchange, _, _ = call(
        scripted([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(404)])
    )
    assert not exchange.maybe_applied


def test_timeouts_are_retried_and_reported():
    """A read timeout on every attempt fails the row with the timeout named."""
    exchange, _, _ = call(scripted([httpx.ReadTimeout("slow")] * 2), max_attempts=2)
    assert exchange.status is None and exchange.attempts == 2
    assert "no answer within 5 s" in exchange.error


def test_every_attempt_passes_the_limiter():
    """Retries take limiter turns too: at rate 2, after the controller's pair test (two
    starts back to back), each retry waits for its own turn, and no 1 s window holds more
    than 2 starts."""
    starts: list[float] = []
    clock = FakeClock()

    def route(request: httpx.Request) -> httpx.Response:
        starts.append(clock.now())
        return httpx.Response(503 if len(starts) < 4 else 200)

    # Retry-After 0 makes the retry wait nothing, so only the limiter spaces them.
    def with_zero_wait(request: httpx.Request) -> httpx.Response:
        response = route(request)
        response.headers["Retry-After"] = "0"
        return response

    call(routed(with_zero_wait), clock=clock, rate=2.0)
    assert len(starts) == 4 and starts[2] - starts[0] >= 1.0 - 1e-9
    assert max(sum(1 for t in starts if s <= t < s + 1) for s in starts) <= 2


def test_request_shape_key_header_and_no_redirects():
    """DELETE path, `Authorization: APIKey <key>`, and a 301 is returned, not followed."""
    seen: list[httpx.Request] = []
    exchange, _, _ = call(
        scripted([httpx.Response(301, headers={"Location": "https://evil.test/"})], seen)
    )
    assert seen[0].method == "DELETE" and seen[0].url.path == URL
    assert seen[0].headers["authorization"] == "APIKey 42_s3cr3tvalue"
    assert exchange.status == 301 and len(seen) == 1


def test_request_id_from_header_or_body():
    """The request ID comes from X-Request-ID, else the body's request_id."""
    a, _, _ = call(scripted([httpx.Response(200, headers={"X-Request-ID": "abc"})]))
    b, _, _ = call(scripted([httpx.Response(404, json={"request_id": "r-9"})]))
    assert (a.request_id, b.request_id) == ("abc", "r-9")


def test_key_is_redacted_from_api_messages():
    """A server echoing the key back does not get it into the report's message."""
    echo = httpx.Response(400, json={"message": "bad key 42_s3cr3tvalue"})
    exchange, _, _ = call(scripted([echo]))
    assert "s3cr3tvalue" not in exchange.message


def _users(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"id": i, "email": f"U{i}@Example.com", "deleted": False} for i in range(start, stop)]


def test_user_list_pages_with_limit_and_advances_by_page_length():
    """Every page is asked with limit; a server capping pages at 40 still yields all 250."""
    seen: list[httpx.Request] = []

    def route(request):
        offset = int(request.url.params["offset"])
        return httpx.Response(
            200, json={"count": 250, "results": _users(offset, min(offset + 40, 250))}
        )

    directory, _, _ = call(routed(route, seen), coro=lambda api: api.list_users())
    assert all("limit" in r.url.params for r in seen)
    assert len(seen) == 7 and len(directory.people) == 250
    assert directory.ids_for("U249@example.com") == [249]


def test_user_list_skips_deleted_users_and_keeps_shared_emails():
    """Deleted users are not matched; two live users with one email are both kept."""
    users = [
        {"id": 1, "email": "a@x.io", "deleted": True},
        {"id": 2, "email": "B@x.io", "deleted": False},
        {"id": 3, "email": "b@X.io", "deleted": False},
    ]
    directory, _, _ = call(
        scripted([httpx.Response(200, json={"count": 3, "results": users})]),
        coro=lambda api: api.list_users(),
    )
    assert dict(directory.by_email) == {"b@x.io": [2, 3]}


def test_user_list_accepts_a_plain_array_answer():
    """If a server ignores limit and answers a plain array, that is the whole list."""
    directory, _, _ = call(
        scripted([httpx.Response(200, json=_users(1, 4))]), coro=lambda api: api.list_users()
    )
    assert sorted(directory.by_email) == ["u1@example.com", "u2@example.com", "u3@example.com"]


def test_retry_budget_stops_retries_when_the_api_fails_broadly():
    """Once the run's retry budget is spent, a 5xx is final at once, with a note saying why."""
    seen: list[httpx.Request] = []

    async def two(api):
        api.budget.tokens = 5  # room for exactly one retry
        first = await api.revoke(1, 2)
        second = await api.revoke(3, 4)
        return first, second

    (first, second), _, _ = call(
        scripted([httpx.Response(503)] * 3, seen), coro=two, max_attempts=5
    )
    assert (first.attempts, second.attempts, len(seen)) == (2, 1, 3)
    assert "retry budget" in first.note and "retry budget" in second.note


def test_retry_budget_refills_on_success_and_ignores_429():
    """A retried request that succeeds refunds its cost; 429s never spend the budget."""

    async def go(api):
        await api.revoke(1, 2)
        return api.budget.tokens

    replies = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200),
    ]
    tokens, _, _ = call(scripted(replies), coro=go)
    assert tokens == 500


def test_a_server_refusing_everything_with_429_aborts_the_run():
    """429 to every request: after THROTTLED_STREAK of them over THROTTLED_SPAN s with none
    accepted, the run is aborted with a message naming the cause, and nothing more is sent."""
    from offboard.http.api import THROTTLED_SPAN, THROTTLED_STREAK

    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "1"})

    async def go(api):
        rows = []
        for user in range(50):
            try:
                rows.append(await api.revoke(7, user))
            except RequestNotSent as exc:
                rows.append(exc)
        return rows

    rows, api, clock = call(routed(refuse), coro=go, max_attempts=100)
    assert "429" in api.abort_reason and "--resume" in api.abort_reason
    assert THROTTLED_STREAK <= len(seen) <= THROTTLED_STREAK + THROTTLED_SPAN + 1
    assert clock.time < 120  # bounded: not 50 rows x 100 attempts with pauses
    # Refused with 429s only, never acted on: each row counts as not sent (not_attempted).
    assert all(isinstance(r, RequestNotSent) and r.attempts == 0 for r in rows)


def test_an_accepted_answer_resets_the_429_streak():
    """A limiter that admits anything at all is pacing the run, not refusing it: 429s with an
    accepted answer among them never abort, however long the run."""
    from offboard.http.api import THROTTLED_STREAK

    count = itertools.count()

    def mostly_refuse(request: httpx.Request) -> httpx.Response:
        if next(count) % (THROTTLED_STREAK - 1) == 0:
            return httpx.Response(200, json={})
        return httpx.Response(429, headers={"Retry-After": "1"})

    async def go(api):
        return [await api.revoke(7, user) for user in range(10)]

    rows, api, clock = call(routed(mostly_refuse), coro=go, max_attempts=100)
    assert not api.abort_reason and clock.time > 60
    assert all(r.status == 200 for r in rows)


class _Pages(httpx.AsyncBaseTransport):
    """GET /iam/users over a list that may change: records how many reads overlapped."""

    def __init__(self, users: list[dict[str, Any]], fail_offset: int | None = None) -> None:
        self.users = users
        self.fail_offset = fail_offset
        self.in_flight = self.most = 0
        self.offsets: list[int] = []
        # Called once the first page has been served.
        self.after_first: Callable[[], object] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        self.offsets.append(offset)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await anyio.sleep(0.005)
        self.in_flight -= 1
        if offset == self.fail_offset:
            return httpx.Response(404, json={"message": "gone"})
        page = self.users[offset : offset + 100]
        answer = httpx.Response(
            200,
            json={"count": len(self.users), "results": page},
            headers={"x-request-id": f"p{offset}"},
        )
        if offset == 0 and self.after_first is not None:
            self.after_first()
            self.after_first = None
        return answer


def test_user_list_reads_the_pages_after_the_first_at_once_in_order():
    """The first page gives the count; the other 24 pages are read concurrently (under the
    run's concurrency), and the users and request IDs come back in page order."""
    pages = _Pages(_users(1, 2451))
    ids: list[str] = []
    directory, _, _ = call(pages, coro=lambda api: api.list_users(ids), concurrency=8)
    assert len(directory.people) == 2450 and pages.offsets[0] == 0
    assert sorted(pages.offsets) == list(range(0, 2450, 100))
    assert 1 < pages.most <= 8
    assert ids == [f"p{offset}" for offset in range(0, 2450, 100)]


def test_a_user_list_that_changes_under_the_read_is_read_again_page_by_page():
    """A user deleted after the first page moves every later user one place up: read at
    fixed offsets, one user would be missed. The count differs, so the list is read again,
    one page after another, and nobody is missed."""
    pages = _Pages(_users(1, 351))
    pages.after_first = lambda: pages.users.pop(50)  # deleted after page 1 was served
    directory, _, _ = call(pages, coro=lambda api: api.list_users(), concurrency=4)
    assert len(directory.people) == 349
    assert directory.ids_for("U101@example.com") == [101]  # the one a fixed offset skips
    assert pages.offsets[-4:] == [0, 100, 200, 300]  # the second, sequential read


def test_a_failing_page_of_the_user_list_is_a_directory_error_not_a_group():
    """One later page failing ends the read with the run's DirectoryError (exit 3 path), not
    an ExceptionGroup from the concurrent read."""
    pages = _Pages(_users(1, 351), fail_offset=200)

    async def read(api):
        with pytest.raises(DirectoryError, match="reading the user list: HTTP 404"):
            await api.list_users()
        return True

    assert call(pages, coro=read, concurrency=4)[0]


def test_the_run_limiter_knows_the_concurrency_its_initial_window():
    """The controller is told --concurrency (its initial window) and starts at --rate: before
    any 429 nothing but --rate paces the run."""
    _, api, _ = call(scripted([httpx.Response(200)]))
    controller = api.limiter.controller
    assert controller.concurrency == api.settings.concurrency > 0
    assert controller.rate(0.0) == api.settings.rate
