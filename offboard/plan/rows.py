"""Decide, per row, what to send: pure functions, no I/O.

    parse(Row) -> Target | problem      is the row usable? (account, user ID or email)
    plan(rows, directory) -> [Action]   resolve emails, mark duplicates
    (plan/guards.py then holds back the rows that must never be sent)

A row that cannot be used becomes an `invalid` Action naming the field; the
other rows still run.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.directory import Directory
from ..core.models import Action, Outcome, Row

MAX_ID = 2**63 - 1  # Gcore IDs are 64-bit signed integers
MAX_EMAIL = 254

# Deliberately permissive: odd but valid forms (plus tags, quoted local parts,
# subdomains, IDN) must pass; only what can never be an address is refused.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$|^\"[^\"\r\n]+\"@[^@\s]+$")
_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, slots=True)
class Target:
    """A usable row: the account and either a user ID or an email to resolve."""

    row: Row
    account: int
    user_id: int | None
    email: str | None


def parse(row: Row) -> Target | str:
    """The row's target, or a one-line problem naming the field."""
    if row.problem:
        return f"row {row.problem}"
    account = _parse_id(row.account, "account")
    if isinstance(account, str):
        return account
    user = row.user
    if isinstance(user, str) and "@" in user:
        email = user.strip()
        if len(email) > MAX_EMAIL or not _EMAIL.match(email):
            return "user: not a valid email address"
        return Target(row, account, None, email)
    user_id = _parse_id(user, "user", also="or an email address")
    if isinstance(user_id, str):
        return user_id
    return Target(row, account, user_id, None)


def _parse_id(value: Any, field: str, also: str = "") -> int | str:
    """A positive 64-bit integer from a CSV string or a YAML scalar, else a problem."""
    wanted = f"{field}: must be a positive integer ID{' ' + also if also else ''}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"{field}: is empty"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return f"{wanted}, found a {type(value).__name__}"
    text = str(value).strip()
    if not _DIGITS.match(text):
        return wanted
    if len(text.lstrip("0")) > 19:  # before int(): Python refuses to parse huge numbers
        return f"{field}: {len(text)}-digit number is larger than a 64-bit ID"
    number = int(text)
    if number == 0:
        return f"{field}: must be a positive integer ID, found 0"
    if number > MAX_ID:
        return f"{field}: {len(text)}-digit number is larger than a 64-bit ID"
    return number


class FirstSeen:
    """Which row first named each (account, user), kept on disk.

    A dict would grow with the number of rows; SQLite's private temporary
    database (an empty file name) keeps only a small page cache in memory.
    Asking again with the same position gives the same answer, so the
    counting pass and the sending pass agree on every duplicate.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE seen (pair TEXT PRIMARY KEY, position INTEGER, row INTEGER)")

    def first(self, pair: str, position: int, row: int) -> int | None:
        """None if this position is the first to name `pair`, else that first row's number."""
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?) RETURNING 1", (pair, position, row)
        ).fetchone()
        if inserted:
            return None
        found = self._db.execute(
            "SELECT position, row FROM seen WHERE pair = ?", (pair,)
        ).fetchone()
        return None if found[0] == position else int(found[1])

    def close(self) -> None:
        self._db.close()


def plan(
    rows: Iterable[Row],
    directory: Directory | None = None,
    directory_error: str = "",
    seen: FirstSeen | None = None,
) -> Iterator[Action]:
    """One Action per row, in input order, produced lazily.

    `directory` is the user list (None when it could not be read);
    `directory_error` says why not, for the email rows.
    """
    seen = seen or FirstSeen()
    for position, row in enumerate(rows):
        target = parse(row)
        if isinstance(target, str):
            yield Action(row, None, None, Outcome.INVALID, target)
            continue
        action = _resolve(target, directory, directory_error)
        user = action.user_id if action.user_id is not None else (target.email or "").lower()
        earlier = seen.first(f"{target.account} {user}", position, row.number)
        if earlier is not None:
            yield Action(
                row,
                target.account,
                action.user_id,
                Outcome.DUPLICATE,
                f"same account and user as row {earlier}: not sent again",
            )
            continue
        yield action


def _resolve(target: Target, directory: Directory | None, directory_error: str) -> Action:
    row, account = target.row, target.account
    if target.email is None:
        return Action(row, account, target.user_id)
    if directory is None:
        reason = directory_error or "the user list was not read"
        return Action(row, account, None, Outcome.FAILED, f"could not resolve email: {reason}")
    ids = directory.ids_for(target.email)
    if not ids:
        return Action(row, account, None, Outcome.MISSING, "no user has this email")
    if len(ids) > 1:
        listed = ", ".join(str(i) for i in sorted(ids))
        return Action(
            row,
            account,
            None,
            Outcome.INVALID,
            f"user: email matches several users ({listed}): give the user ID",
        )
    return Action(row, account, ids[0])
