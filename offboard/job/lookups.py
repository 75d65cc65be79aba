"""What a job reads from the API before it looks at any row: the key's own user, the user
list, and later the batch users' last logins, each with what a failure means for the run.

Apart from job/session.py, which walks the rows: these are the reads whose failure decides
whether a guard can hold (no key user, or no list with protected emails: the run aborts) or
only what the report can say (logins unknown, or read back only so far: a warning).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ..core.directory import Directory
from ..core.settings import Protection
from ..execute.activity import Activity, read_activity
from ..http.api import Api, DirectoryError, RequestNotSent
from ..journal.reader import Previous
from ..plan.planfile import Plan, check_same_key_user
from ..report.logs import Log
from .ended import Prepared


async def read_directory(
    api: Api, planned: Plan | None, previous: Previous | None, protection: Protection
) -> Prepared:
    """The key's own user and the user list (reads only); where one is missing and a guard
    needs it, the run is aborted (Prepared.aborted says why)."""
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
        directory = await api.list_users()
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


async def read_logins(
    api: Api,
    users: Collection[int],
    now: datetime,
    active_days: int,
    oldest: datetime,
    log: Log,
) -> Activity:
    """The users' last logins back to `oldest`; a warning when they cannot flag every row."""
    activity = await read_activity(api, users, now, active_days, oldest)
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
