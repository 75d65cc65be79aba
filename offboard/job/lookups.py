"""What a job reads from the API before it looks at any row: the key's own user, the user
list, and later the batch users' last logins, each with what a failure means for the run.

Apart from job/session.py, which walks the rows: these are the reads whose failure decides
whether a guard can hold (no key user, or no list with protected emails: the run aborts) or
only what the report can say (logins unknown, or read back only so far: a warning).

The key's user is read first and alone (a rejected key then costs one request); then the
user list's pages and the login log's first page, which needs no row, side by side: the
look-ups before the first DELETE take the list's round trips, not the list's plus the log's.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import anyio

from ..core.directory import Directory
from ..core.models import Exchange
from ..core.settings import Protection
from ..execute.activity import Activity, first_page, read_activity
from ..http.api import Api, DirectoryError, RequestNotSent
from ..journal.reader import Previous
from ..plan.planfile import Plan, check_same_key_user
from ..report.logs import Log
from .ended import Prepared


class LoginsAhead:
    """The login log's first page, read beside the user list (None: not read)."""

    def __init__(self) -> None:
        self.page: Exchange | None = None

    async def read(self, api: Api) -> None:
        self.page = await first_page(api)


async def read_directory(
    api: Api,
    planned: Plan | None,
    previous: Previous | None,
    protection: Protection,
    logins: LoginsAhead | None = None,
) -> Prepared:
    """The key's own user and the user list (reads only), and `logins`' page beside the
    list; where one is missing and a guard needs it, the run is aborted (Prepared.aborted
    says why)."""
    key_user: int | None = None
    directory: Directory | None = None
    directory_error = ""
    try:
        key_user = await api.whoami()
        if planned is not None:
            check_same_key_user(planned, key_user)
        # Read even for a plan, whose rows are already resolved: it checks the plan's
        # email rows against SOURCE, matches protected emails, and records each user's
        # role, which a restore gives back.
        directory = await _beside(api, logins)
        if previous is not None:
            # Resolve as the run being resumed did: that run may have deleted some of
            # the batch's users, and the listing no longer shows them.
            directory = directory.with_recorded(previous.people, previous.names)
    except (DirectoryError, RequestNotSent) as exc:
        directory_error = api.abort_reason or str(exc)
        if key_user is None:
            # Without the key's own user, the guard that protects it cannot hold.
            api.abort(f"cannot tell which user the API key belongs to: {directory_error}")
        elif protection.emails:
            api.abort(f"cannot check the protected emails: {directory_error}")
    return Prepared(key_user, directory, directory_error, api.abort_reason)


async def _beside(api: Api, logins: LoginsAhead | None) -> Directory:
    """The user list, with the login log's first page read at the same time. The page never
    raises (first_page), and a failed list waits for it: nothing is cancelled mid-request."""
    if logins is None:
        return await api.list_users()
    failed: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(logins.read, api)
        try:
            directory = await api.list_users()
        except Exception as exc:  # raised below, as itself (not in an ExceptionGroup)
            failed = exc
    if failed is not None:
        raise failed
    return directory


async def read_logins(
    api: Api,
    users: Collection[int],
    now: datetime,
    active_days: int,
    oldest: datetime,
    log: Log,
    first: Exchange | None = None,
) -> Activity:
    """The users' last logins back to `oldest` (`first`: the log's first page, read beside
    the user list); a warning when they cannot flag every row."""
    activity = await read_activity(api, users, now, active_days, oldest, first)
    if activity.unknown:
        log.warn(
            f"login activity unknown: {activity.unknown}; leavers who still "
            "sign in cannot be flagged"
        )
    elif activity.capped and activity.since is not None:
        since = activity.since.strftime("%Y-%m-%d %H:%M")
        log.warn(
            f"the login log was read back only to {since} UTC: rows whose "
            "leave_date is older say unknown"
        )
    return activity
