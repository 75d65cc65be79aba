"""Who of the batch still signs in: the key account's login log, read once per run.

    GET /iam/activity_log/logins (newest first, limit/offset) -> Activity
    first_page(api)             -> its first page (read beside the user list)
    Activity.fact(row, user_id) -> LoginFact       (leaving.judge: pure)
    Activity.mark(result)       -> the Result with its fact (and a note in its message)

The log is the key's own account's (the API takes no account): logins into other
accounts are not in it. It is read through `Api.request`, so every page takes the
run's one rate limiter and its retries. Reading stops as soon as no older entry can
change a flag: when every user of the batch has a successful login (the log is newest
first, so that is their last), when the entries are older than the oldest window any
row needs (its leave date, else now - --active-days), or after MAX_PAGES pages (the
rows whose window starts before what was read are then "unknown", and say so).

A log the key may not read (403, 404) or cannot be read (anything else) makes every
row "unknown", never a failed run: `unknown` says why, once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core.logins import LoginFact
from ..core.models import Exchange, Result, Row
from ..http.api import Api, RequestNotSent
from ..source.leaving import UNKNOWN, judge, leave_text, note, window_start

LOGINS = "/iam/activity_log/logins"
PAGE = 100
MAX_PAGES = 50  # 5,000 logins: weeks of a busy account; beyond that the rows say unknown


@dataclass(frozen=True, slots=True)
class LastLogin:
    at: datetime
    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Activity:
    """What the log said: each batch user's last successful login, and how far it was read."""

    now: datetime
    active_days: int
    found: Mapping[int, LastLogin] = field(default_factory=dict)
    since: datetime | None = None  # read back to here (None: the whole log was read)
    capped: bool = False  # stopped at MAX_PAGES before the oldest window
    unknown: str = ""  # why the log could not be read ("" when it was)

    def fact(self, row: Row, user_id: int) -> LoginFact:
        leave = leave_text(row)[1].strip()
        if self.unknown:
            return LoginFact(UNKNOWN, leave, note=self.unknown)
        last = self.found.get(user_id)
        since = _iso(self.since) if self.since is not None else ""
        if (
            last is None
            and self.capped
            and self.since is not None
            and window_start(row, self.now, self.active_days) < self.since
        ):
            return LoginFact(
                UNKNOWN,
                leave,
                since=since,
                note=f"the login log was read back only to {since} ({MAX_PAGES} pages)",
            )
        flag = judge(row, last.at if last else None, self.now, self.active_days)
        if last is None:
            return LoginFact(flag, leave, since=since)
        return LoginFact(flag, leave, _iso(last.at), last.ip, last.user_agent, since)

    def mark(self, result: Result) -> Result:
        """The result with its user's login fact; the message says a flag when there is one
        (a row mark, core/sinks.py)."""
        if result.user_id is None:
            return result
        fact = self.fact(result.row, result.user_id)
        said = note(fact, self.active_days)
        message = (
            f"{result.message}; {said}" if said and result.message else (said or result.message)
        )
        return result.marked(user_deleted=result.user_deleted, login=fact, message=message)


async def first_page(api: Api) -> Exchange | None:
    """The log's first page, which needs no user of the batch: job/lookups.py asks for it
    beside the user list, so the look-ups take the list's round trips and no more. None when
    the run was aborted before it was sent (read_activity then asks for it itself)."""
    try:
        return await api.request("GET", LOGINS, params={"limit": PAGE, "offset": 0})
    except RequestNotSent:
        return None


async def read_activity(
    api: Api,
    users: Collection[int],
    now: datetime,
    active_days: int,
    oldest: datetime,
    first: Exchange | None = None,
) -> Activity:
    """Read the log back to `oldest` (or MAX_PAGES pages), keeping `users`' last logins;
    `first`: its first page, already read (first_page)."""
    found: dict[int, LastLogin] = {}
    if not users:
        return Activity(now, active_days)
    offset, seen = 0, None
    for _ in range(MAX_PAGES):
        try:
            exchange = (
                first
                if offset == 0 and first is not None
                else await api.request("GET", LOGINS, params={"limit": PAGE, "offset": offset})
            )
        except RequestNotSent:
            return Activity(now, active_days, unknown="the run was aborted before it was read")
        body = exchange.body
        items = body.get("result") if isinstance(body, dict) else None
        if exchange.status != 200 or not isinstance(items, list):
            return Activity(
                now, active_days, unknown=_why(exchange.status, exchange.message, exchange.error)
            )
        for item in items:
            at = _moment(item.get("login_at")) if isinstance(item, dict) else None
            if at is None:
                continue
            seen = at if seen is None else min(seen, at)
            user = item.get("user")
            if (
                item.get("is_successful") is True
                and user in users
                and (user not in found or found[user].at < at)
            ):
                found[user] = LastLogin(
                    at, _text(item.get("ip_address")), _text(item.get("user_agent"))
                )
        offset += len(items)
        count = body.get("count") if isinstance(body, dict) else None
        if not items or (isinstance(count, int) and offset >= count):
            return Activity(now, active_days, found)
        if len(found) == len(users) or (seen is not None and seen < oldest):
            return Activity(now, active_days, found, since=seen)
    return Activity(now, active_days, found, since=seen, capped=True)


def _why(status: int | None, message: str, error: str) -> str:
    if status in (403, 404):
        return f"the API key may not read the account's login log (HTTP {status} from GET {LOGINS})"
    if status is None:
        return f"GET {LOGINS} failed: {error}"
    if status == 200:
        return f"GET {LOGINS} answered in an unexpected shape"
    detail = f": {message}" if message else ""
    return f"GET {LOGINS} answered HTTP {status}{detail}"


def _moment(value: Any) -> datetime | None:
    """An RFC 3339 time with a zone, in UTC; None for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(
        timespec="microseconds" if moment.microsecond else "seconds"
    )
    return text.replace("+00:00", "Z")


def _text(value: Any) -> str:
    return value[:500] if isinstance(value, str) else ""
