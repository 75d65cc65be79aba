"""When a row's leaver left (its optional `leave_date`), and what their last login means.

Pure: no I/O. The readers (source/csv_rows.py, source/yaml_rows.py) refuse a SOURCE whose
leave_date is not a date, or is in the future, with `check_leave_date`; execute/activity.py
judges each row's last successful login with `judge`.

A leave_date is `YYYY-MM-DD`, a UTC day: the person may still sign in on that day,
so a login from 00:00 UTC of the next day on is "after leaving". An RFC 3339 time
with a zone (`2026-11-20T17:00:00+01:00`) is also read, for an exact moment; one
without a zone is refused, since it would mean a different moment on each machine.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from ..core.errors import SourceError
from ..core.logins import LoginFact
from ..core.models import Row

LEAVE_DATE = "leave_date"
AFTER_LEAVING, ACTIVE, QUIET, UNKNOWN = "after_leaving", "active", "quiet", "unknown"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_EXPECTED = "expected YYYY-MM-DD, or a time with a zone such as 2026-11-20T17:00:00Z"


def leave_text(row: Row) -> tuple[str, str]:
    """(column name as written, value) of the row's leave_date; ("", "") when it has none."""
    for name, value in row.extra.items():
        if name.strip().lower() == LEAVE_DATE:
            return name, value
    return "", ""


def leave_moment(text: str, now: datetime) -> datetime | None:
    """From when on a login is "after leaving" (None: no leave date); ValueError if unusable."""
    text = text.strip()
    if not text:
        return None
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a real date: {shown}") from None
        if day > now.astimezone(UTC).date():
            raise ValueError(
                f"{text} is in the future: a leaver has left already "
                f"(today is {now.astimezone(UTC).date()} UTC)"
            )
        return datetime.combine(day + timedelta(days=1), time(), UTC)
    if not _TIME.fullmatch(text):
        raise ValueError(f"not a date: {shown} ({_EXPECTED})")
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a real date and time: {shown}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text} has no time zone: add one (Z for UTC) or give the date only")
    if moment > now:
        raise ValueError(f"{text} is in the future: a leaver has left already")
    return moment.astimezone(UTC)


def check_leave_date(row: Row, origin: str, now: datetime | None = None) -> None:
    """Refuse (SourceError, exit 2) a row whose leave_date is not a past date."""
    name, text = leave_text(row)
    try:
        leave_moment(text, now or datetime.now(UTC))
    except ValueError as exc:
        raise SourceError(f"{origin}: row {row.number}: {name}: {exc}") from None


def window_start(row: Row, now: datetime, active_days: int) -> datetime:
    """The oldest login that can flag this row: its leave moment, else the active window."""
    leave = leave_of(row, now)
    return leave if leave is not None else now - timedelta(days=active_days)


def judge(row: Row, last: datetime | None, now: datetime, active_days: int) -> str:
    """The row's flag from its user's last successful login (None: none seen)."""
    leave = leave_of(row, now)
    if last is None:
        return QUIET
    if leave is not None:
        return AFTER_LEAVING if last >= leave else QUIET
    return ACTIVE if active_days and last >= now - timedelta(days=active_days) else QUIET


def note(fact: LoginFact, active_days: int) -> str:
    """What the row's message says about the fact ("" when there is nothing to say)."""
    where = f" from {fact.ip_address or 'an unknown address'}"
    agent = f" ({fact.user_agent})" if fact.user_agent else ""
    if fact.flag == AFTER_LEAVING:
        return (
            f"possible security incident: signed in after leaving (leave_date "
            f"{fact.leave_date}): last successful login {fact.login_at}{where}{agent}"
        )
    if fact.flag == ACTIVE:
        return (
            f"warning: signed in {fact.login_at}{where}, within the last {active_days} "
            "days, and the row has no leave_date: check this is the right person"
        )
    return ""


def leave_of(row: Row, now: datetime) -> datetime | None:
    """The row's leave moment (None: it has none). A row read from SOURCE has passed
    `check_leave_date` with an earlier clock, so any later `now` gives the same answer."""
    try:
        return leave_moment(leave_text(row)[1], now)
    except ValueError:  # refused when the SOURCE was read; a later clock cannot make it bad
        return None
