"""What a job reads from the API before it looks at any row: the key's own user, the user
list, and later the batch users' last logins, each with what a failure means for the run.

Apart from job/session.py, which walks the rows: these are the reads whose failure decides
whether a guard can hold (no key user, or no list with protected emails: the run aborts) or
only what the report can say (logins unknown, or read back only so far: a warning).

The key's user is asked first and alone (a rejected key then costs one request); the user
list's pages and the login log's first page, which needs no row, go out side by side as soon
as its answer's head says 200, while its body (the key's whole account: 1.36 MB with 3,000
users) is still being read and decoded. The look-ups before the first DELETE then take the
key's user's first byte and the list's round trips, not the list's plus the log's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
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

# The longest clients/me's body waits for the list's pages to be asked (a list paced by a
# limit, or retrying, must not hold the key's user near its timeout).
HOLD = 0.25  # seconds


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
    listed = _Listing(api, logins)
    failed: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(listed.read)
        try:
            key_user = await api.whoami(heard=listed.heard)
            listed.accept()  # known now, whether or not its head was heard apart
            if planned is not None:
                check_same_key_user(planned, key_user)
        except Exception as exc:  # raised below, as itself (not in an ExceptionGroup)
            failed = exc
        # The key's user is known, or will never be: a list that has not started never
        # will (a rejected key costs one request); one that has is awaited, not cancelled.
        listed.stop_unless_asked(group.cancel_scope)
    try:
        if failed is not None:
            raise failed
        directory = listed.result()
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


async def _beside(
    api: Api, logins: LoginsAhead | None, asked: Callable[[], None] | None = None
) -> Directory:
    """The user list, with the login log's first page read at the same time. The page never
    raises (first_page), and a failed list waits for it: nothing is cancelled mid-request."""
    if logins is None:
        return await api.list_users(asked=asked)
    failed: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(logins.read, api)
        try:
            directory = await api.list_users(asked=asked)
        except Exception as exc:  # raised below, as itself (not in an ExceptionGroup)
            failed = exc
    if failed is not None:
        raise failed
    return directory


class _Listing:
    """The user list (and the login log's first page beside it), asked as soon as the key's
    user answers 200, before that answer's body, the key's whole account, is read. Read even
    for a plan, whose rows are already resolved: it checks the plan's email rows against
    SOURCE, matches protected emails, and records each user's role, which a restore gives
    back.

    The body waits (at most HOLD) until the first answer to one of the list's later pages
    begins, when they have all gone out: decoding it (about 40 ms of CPU at 1.36 MB) then
    goes beside their round trips, not in front of them."""

    def __init__(self, api: Api, logins: LoginsAhead | None) -> None:
        self._api, self._logins = api, logins
        self._accepted = anyio.Event()
        self._asked = anyio.Event()
        self._directory: Directory | None = None
        self._failed: Exception | None = None

    async def heard(self, status: int) -> None:
        """clients/me's head: a 200 starts the list; its body is read once the list's pages
        are asked, or HOLD has passed."""
        if status == 200 and not self._accepted.is_set():
            self.accept()
            with anyio.move_on_after(HOLD):
                await self._asked.wait()

    def accept(self) -> None:
        self._accepted.set()

    async def read(self) -> None:
        await self._accepted.wait()
        try:
            self._directory = await _beside(self._api, self._logins, self._asked.set)
        except Exception as exc:  # raised by result(), as itself (not in an ExceptionGroup)
            self._failed = exc
        finally:
            self._asked.set()

    def stop_unless_asked(self, scope: anyio.CancelScope) -> None:
        if not self._accepted.is_set():
            scope.cancel()

    def result(self) -> Directory:
        if self._failed is not None:
            raise self._failed
        assert self._directory is not None
        return self._directory


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
