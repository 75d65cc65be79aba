"""leave_date parsing, the login log read page by page, and the flag each row gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from offboard.core.errors import SourceError
from offboard.core.models import Outcome, Result, Row
from offboard.execute.activity import MAX_PAGES, Activity, read_activity
from offboard.http.api import Api, make_client
from offboard.source.leaving import (
    ACTIVE,
    AFTER_LEAVING,
    QUIET,
    UNKNOWN,
    check_leave_date,
    leave_moment,
)
from offboard.source.read import parse_csv, yaml_rows

from .helpers import FakeClock, routed, settings

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("", None),
        ("  ", None),
        ("2026-11-20", datetime(2026, 11, 21, tzinfo=UTC)),  # the whole leave day is allowed
        ("2026-12-04", datetime(2026, 12, 5, tzinfo=UTC)),  # today is not the future
        (" 2026-11-20 ", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-20T17:00:00Z", datetime(2026, 11, 20, 17, tzinfo=UTC)),
        ("2026-11-20T17:00:00+01:00", datetime(2026, 11, 20, 16, tzinfo=UTC)),
        ("2026-11-20 17:30Z", datetime(2026, 11, 20, 17, 30, tzinfo=UTC)),
    ],
)
def test_leave_dates_and_times_that_are_read(text: str, moment: datetime | None) -> None:
    """A date means "left at the end of that UTC day"; a time with a zone means that moment."""
    assert leave_moment(text, NOW) == moment


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("30/11/2026", "not a date"),
        ("20261120", "not a date"),
        ("2026-02-30", "not a real date"),
        ("2026-11-20T17:00:00", "no time zone"),
        ("yesterday", "not a date"),
        ("2026-12-05", "in the future"),
        ("2026-12-04T13:00:00Z", "in the future"),
        ("9" * 500, "not a date"),
    ],
)
def test_leave_dates_that_are_refused(text: str, words: str) -> None:
    """Anything but a real date (or a zoned time) that is not in the future is refused."""
    with pytest.raises(ValueError, match=words) as raised:
        leave_moment(text, NOW)
    assert len(str(raised.value)) < 200


def test_a_bad_leave_date_in_csv_names_the_file_row_and_field() -> None:
    """The column is found case-insensitively; the error is one line with file, row, field."""
    rows, _ = parse_csv(b"account,user,Leave_Date\n10,101,2026-11-20\n", "l.csv")
    check_leave_date(rows[0], "l.csv", NOW)
    with pytest.raises(SourceError) as raised:
        parse_csv(b"account,user,Leave_Date\n10,101,2026-11-20\n\n10,102,30/11/2026\n", "l.csv")
    assert str(raised.value).startswith("l.csv: row 4: Leave_Date: not a date")
    assert "\n" not in str(raised.value)


def test_reading_a_csv_or_yaml_checks_every_leave_date() -> None:
    """The readers refuse the whole SOURCE for one bad leave_date (exit 2, before requests)."""
    with pytest.raises(SourceError, match=r"^l.csv: row 3: leave_date: .*in the future"):
        parse_csv(b"account,user,leave_date\n10,101,\n10,102,2999-01-01\n", "l.csv")
    with pytest.raises(SourceError, match=r"^j.yaml: users: row 2: leave_date: not a date"):
        yaml_rows(
            [{"account": 1, "user": 2}, {"account": 1, "user": 3, "leave_date": 20261120}],
            "j.yaml: users",
        )


def login(user: int, at: str, ok: bool = True, ip: str = "192.0.2.1") -> dict[str, Any]:
    return {
        "id": 10,
        "login_at": at,
        "ip_address": ip,
        "user_agent": "ua/1",
        "is_successful": ok,
        "auth_type": "password",
        "user": user,
    }


def log_api(
    items: list[dict[str, Any]],
    status: int = 200,
    seen: list[httpx.Request] | None = None,
    page: int | None = None,
) -> tuple[Api, Any]:
    def route(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"message": "no"})
        limit = min(int(request.url.params["limit"]), page or 10_000)
        offset = int(request.url.params["offset"])
        return httpx.Response(
            200, json={"count": len(items), "result": items[offset : offset + limit]}
        )

    client = make_client(settings(), routed(route, seen))
    return Api(settings(), client, FakeClock()), client


def read(
    items: list[dict[str, Any]], users: set[int], oldest: datetime, **kw: Any
) -> tuple[Activity, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    async def go() -> Activity:
        api, client = log_api(items, seen=seen, **kw)
        async with client:
            return await read_activity(api, users, NOW, 7, oldest)

    return anyio.run(go), seen


def test_the_last_successful_login_of_each_user_is_kept() -> None:
    """Failed logins and other users are ignored; the newest successful one is the last login."""
    activity, seen = read(
        [
            login(2, "2026-12-03T10:00:00Z", ok=False),
            login(9, "2026-12-03T09:00:00Z"),
            login(2, "2026-12-02T08:00:00.5Z", ip="2001:db8::1"),
            login(2, "2026-12-01T08:00:00Z"),
            {"user": 3, "login_at": "garbage", "is_successful": True},
            login(3, "2026-11-01T08:00:00Z"),
        ],
        {2, 3},
        NOW - timedelta(days=400),
    )
    assert activity.found[2].at == datetime(2026, 12, 2, 8, 0, 0, 500000, tzinfo=UTC)
    assert activity.found[2].ip == "2001:db8::1" and activity.found[2].user_agent == "ua/1"
    assert activity.found[3].at == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert not activity.unknown and activity.since is None
    assert seen[0].url.path == "/iam/activity_log/logins"
    assert seen[0].url.params["limit"] == "100" and seen[0].url.params["offset"] == "0"


def test_pages_are_followed_by_what_each_page_held() -> None:
    """A server capping pages below our limit is read on, offset by the items it gave."""
    items = [login(5, f"2026-12-0{3 - i // 3}T0{i % 3}:00:00Z") for i in range(7)]
    items.append(login(2, "2026-11-30T08:00:00Z"))
    activity, seen = read(items, {2}, NOW - timedelta(days=400), page=3)
    assert [r.url.params["offset"] for r in seen] == ["0", "3", "6"]
    assert activity.found[2].at == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_reading_stops_once_older_than_any_flag_needs() -> None:
    """Entries older than the oldest leave date (or the active window) are not read."""
    items = [login(5, f"2026-12-{d:02d}T00:00:00Z") for d in range(3, 0, -1)]
    items += [login(5, f"2026-11-{d:02d}T00:00:00Z") for d in range(30, 0, -1)]
    activity, seen = read(items, {2}, datetime(2026, 12, 1, 12, tzinfo=UTC), page=2)
    assert len(seen) == 2  # the second page reaches 2026-11-30, older than the cut-off
    assert activity.since == datetime(2026, 11, 30, tzinfo=UTC) and not activity.capped


def test_reading_stops_at_the_page_cap_and_says_how_far_it_read() -> None:
    """At MAX_PAGES pages the read stops; rows whose window starts earlier are unknown."""
    items = [login(5, (NOW - timedelta(minutes=i)).isoformat()) for i in range(MAX_PAGES * 2 + 5)]
    activity, seen = read(items, {2}, NOW - timedelta(days=30), page=2)
    assert len(seen) == MAX_PAGES and activity.capped
    assert activity.fact(Row(2, "10", "2"), 2).flag == UNKNOWN
    assert "read back only to" in activity.fact(Row(2, "10", "2"), 2).note


@pytest.mark.parametrize("status", [403, 404, 500])
def test_an_unreadable_log_is_unknown_never_an_error(status: int) -> None:
    """403/404 (no permission) and any other failure make every row's activity unknown."""

    async def go() -> Activity:
        api, client = log_api([], status=status)
        async with client:
            return await read_activity(api, {2}, NOW, 7, NOW - timedelta(days=7))

    activity = anyio.run(go)
    assert activity.unknown and f"HTTP {status}" in activity.unknown
    fact = activity.fact(Row(2, "10", "2", {"leave_date": "2026-11-20"}), 2)
    assert fact.flag == UNKNOWN and fact.leave_date == "2026-11-20"


def test_no_request_without_users() -> None:
    """A batch with no user to check reads nothing."""
    activity, seen = read([login(2, "2026-12-01T00:00:00Z")], set(), NOW)
    assert seen == [] and activity.found == {}


@pytest.mark.parametrize(
    ("extra", "last", "flag"),
    [
        ({"leave_date": "2026-11-20"}, "2026-11-21T00:00:00Z", AFTER_LEAVING),
        ({"leave_date": "2026-11-20"}, "2026-11-20T23:59:59Z", QUIET),  # their last day
        ({"leave_date": "2026-11-20T17:00:00Z"}, "2026-11-20T18:00:00Z", AFTER_LEAVING),
        ({"leave_date": "2026-12-03"}, "2026-12-03T10:00:00Z", QUIET),  # recent, but before leaving
        ({}, "2026-12-03T10:00:00Z", ACTIVE),
        ({"leave_date": ""}, "2026-11-20T10:00:00Z", QUIET),  # 14 days ago: outside 7 days
        ({}, None, QUIET),
    ],
)
def test_each_rows_flag(extra: dict[str, str], last: str | None, flag: str) -> None:
    """After the leave date: an incident; no leave date, within --active-days: a warning."""
    found = {2: login(2, last)} if last else {}
    activity, _ = read(list(found.values()), {2}, NOW - timedelta(days=400))
    fact = activity.fact(Row(2, "10", "2", extra), 2)
    assert fact.flag == flag
    result = activity.mark(
        Result(Row(2, "10", "2", extra), Outcome.WOULD_REVOKE, 10, 2, message="member")
    )
    assert result.login == fact
    if flag == AFTER_LEAVING:
        assert "signed in after leaving" in result.message and "192.0.2.1" in result.message
    elif flag == ACTIVE:
        assert "within the last 7 days" in result.message
    else:
        assert result.message == "member"


def test_the_confirmation_prompt_names_who_signed_in_after_leaving() -> None:
    """The prompt names, once per user, the leaver who signed in after leaving and the one
    active recently without a leave_date; an unreadable log is one line saying why."""
    from offboard.core.directory import Person
    from offboard.core.models import Action
    from offboard.job.confirm import question
    from offboard.plan.deletions import Deletions

    activity, _ = read(
        [login(2, "2026-11-30T09:00:00Z"), login(3, "2026-12-03T09:00:00Z")],
        {2, 3},
        NOW - timedelta(days=400),
    )
    rows = [
        Action(Row(2, "10", "2", {"leave_date": "2026-11-20"}), 10, 2),
        Action(Row(3, "20", "2", {"leave_date": "2026-11-20"}), 20, 2),
        Action(Row(4, "10", "3", {}), 10, 3),
    ]
    people = {2: Person(2, "ann@t.example", frozenset({10, 20}), "Ann")}

    def ask(found: Activity) -> str:
        return anyio.run(
            lambda: question(
                None,  # type: ignore[arg-type]  # no API: without delete_tokens it is never read
                sending=3,
                users=2,
                accounts=2,
                deletions=Deletions(),
                people=people,
                list_unreadable=False,
                actions=[],
                delete_tokens=False,
                activity=found,
                all_rows=rows,
            )
        )

    text = ask(activity)
    assert (
        "POSSIBLE SECURITY INCIDENT: signed in after their leave_date: 1\n"
        "  Ann <ann@t.example> (user 2): 2026-11-30T09:00:00Z from 192.0.2.1, "
        "leave_date 2026-11-20"
    ) in text
    assert "Signed in within the last 7 days, with no leave_date" in text and "user 3" in text
    unknown = ask(Activity(NOW, 7, unknown="no permission (HTTP 403)"))
    assert "Login activity unknown: no permission (HTTP 403)." in unknown
