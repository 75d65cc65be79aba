"""Decide, per row, what to send: pure functions, no I/O.

    parse(Row) -> Target | problem      is the row usable? (account or `*`, user ID or email)
    plan(rows, directory) -> [Action]   resolve emails, expand `*` rows, mark duplicates
    (plan/guards.py then holds back the rows that must never be sent)

A row that cannot be used becomes an `invalid` Action naming the field; the
other rows still run. A row whose account is `*` (or `all`) names the person everywhere:
it becomes one Action per account the user list shows for the user (`client_and_roles`),
in account order, each sent, journaled and reported as any pair; a user the list does
not know is one `missing` Action.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..core.directory import Directory
from ..core.models import EVERYWHERE_WORDS, Action, Outcome, Row

if TYPE_CHECKING:
    import sqlite3

MAX_ID = 2**63 - 1  # Gcore IDs are 64-bit signed integers
MAX_EMAIL = 254

# Deliberately permissive: odd but valid forms (plus tags, quoted local parts,
# subdomains, IDN) must pass; only what can never be an address is refused.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$|^\"[^\"\r\n]+\"@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Target:
    """A usable row: the account (None: every account, `*`) and either a user ID or an
    email to resolve."""

    row: Row
    account: int | None
    user_id: int | None
    email: str | None


def parse(row: Row, everywhere: bool = False) -> Target | str:
    """The row's target, or a one-line problem naming the field. `everywhere`
    (--everywhere) makes every row name its person everywhere, whatever its account."""
    if row.problem:
        return f"row {row.problem}"
    account: int | None = None  # None: every account (`*`)
    if not everywhere and not _names_everywhere(row.account):
        parsed = _parse_id(row.account, "account", also="or * (every account)")
        if isinstance(parsed, str):
            return parsed
        account = parsed
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


def _names_everywhere(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in EVERYWHERE_WORDS


def _parse_id(value: Any, field: str, also: str = "") -> int | str:
    """A positive 64-bit integer from a CSV string or a YAML scalar, else a problem."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"{field}: is empty"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return f"{_wanted(field, also)}, found a {type(value).__name__}"
    text = str(value).strip()
    # ASCII digits only (str.isdigit alone takes "²" and other scripts' digits); no regex:
    # every row's account and user go through this.
    if not (text.isascii() and text.isdigit()):
        return _wanted(field, also)
    if len(text.lstrip("0")) > 19:  # before int(): Python refuses to parse huge numbers
        return f"{field}: {len(text)}-digit number is larger than a 64-bit ID"
    number = int(text)
    if number == 0:
        return f"{field}: must be a positive integer ID, found 0"
    if number > MAX_ID:
        return f"{field}: {len(text)}-digit number is larger than a 64-bit ID"
    return number


def _wanted(field: str, also: str) -> str:
    return f"{field}: must be a positive integer ID{' ' + also if also else ''}"


IN_MEMORY = 20_000  # pairs FirstSeen keeps in a dict (a few MB) before SQLite takes the rest


class FirstSeen:
    """Which row first named each (account, user): the first `in_memory` pairs in a dict,
    the rest on disk.

    A dict alone would grow with the number of rows; SQLite's private temporary
    database (an empty file name) keeps only a small page cache in memory, but costs an
    INSERT per row on each pass, on the way to the first DELETE. So the dict holds the
    first pairs (most batches whole) and SQLite, opened only then, every pair after it
    is full: a pair lives in one of the two, always the same one. Asking again with the
    same position gives the same answer, so the counting pass and the sending pass agree
    on every duplicate.
    """

    def __init__(self, in_memory: int = IN_MEMORY) -> None:
        self._front: dict[str, tuple[int, int]] = {}
        self._room = in_memory
        self._db: sqlite3.Connection | None = None

    def first(self, pair: str, position: int, row: int) -> int | None:
        """None if this position is the first to name `pair`, else that first row's number."""
        known = self._front.get(pair)
        if known is not None:
            return None if known[0] == position else known[1]
        if len(self._front) < self._room:
            self._front[pair] = (position, row)
            return None
        if self._db is None:
            import sqlite3  # only for a batch past `in_memory` pairs: most never load it

            self._db = sqlite3.connect("")
            self._db.execute(
                "CREATE TABLE seen (pair TEXT PRIMARY KEY, position INTEGER, row INTEGER)"
            )
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
        if self._db is not None:
            self._db.close()


def plan(
    rows: Iterable[Row],
    directory: Directory | None = None,
    directory_error: str = "",
    seen: FirstSeen | None = None,
    everywhere: bool = False,
    parsed: Sequence[Target | str] | None = None,
) -> Iterator[Action]:
    """The Actions of the rows, in input order, produced lazily: one per row, or one per
    account for a row that names its person everywhere.

    `directory` is the user list (None when it could not be read);
    `directory_error` says why not, for the email and `*` rows. `everywhere`
    (--everywhere) treats every row as `*`. `parsed`: each row's `parse(row, everywhere)`,
    made already (job/ahead.py), in the rows' order.
    """
    seen = seen or FirstSeen()
    names = directory.names if directory is not None else {}
    position = 0  # one per pair: the same pair asked again (a second pass) answers the same
    for row, target in (
        zip(rows, parsed, strict=True)
        if parsed is not None
        else ((row, parse(row, everywhere)) for row in rows)
    ):
        if isinstance(target, str):
            yield Action(row, None, None, Outcome.INVALID, target)
            position += 1
            continue
        resolved = _resolve(target, directory, directory_error, names)
        pairs: Iterable[Action] = (
            _expand(resolved, directory, directory_error)
            if resolved.everywhere and resolved.send
            else (resolved,)  # as _expand gives it, without a generator per row
        )
        for action in pairs:
            if action.account is not None and not action.account_name:
                name = names.get(action.account, "")
                if name:  # no copy of an Action that stays the same
                    action = replace(action, account_name=name)
            user = action.user_id if action.user_id is not None else (target.email or "").lower()
            earlier = seen.first(f"{action.account} {user}", position, row.number)
            position += 1
            if earlier is not None:
                yield replace(
                    action,
                    outcome=Outcome.DUPLICATE,
                    message=f"same account and user as row {earlier}: not sent again",
                )
                continue
            yield action


def _resolve(
    target: Target,
    directory: Directory | None,
    directory_error: str,
    names: Mapping[int, str] | None = None,
) -> Action:
    row, account = target.row, target.account
    wide = account is None  # the row names its person everywhere
    if target.email is None:
        # The account's name now, as plan() would add it after: one Action a row, not two.
        name = names.get(account, "") if names and account is not None else ""
        return Action(row, account, target.user_id, everywhere=wide, account_name=name)
    if directory is None:
        reason = directory_error or "the user list was not read"
        return Action(
            row, account, None, Outcome.FAILED, f"could not resolve email: {reason}", wide
        )
    ids = directory.ids_for(target.email)
    if not ids:
        return Action(row, account, None, Outcome.MISSING, "no user has this email", wide)
    if len(ids) > 1:
        listed = ", ".join(str(i) for i in sorted(ids))
        return Action(
            row,
            account,
            None,
            Outcome.INVALID,
            f"user: email matches several users ({listed}): give the user ID",
            wide,
        )
    return Action(row, account, ids[0], everywhere=wide)


def _expand(action: Action, directory: Directory | None, directory_error: str) -> Iterator[Action]:
    """A `*` row's pairs: one per account the user list shows for its user, in account
    order; a row that is not `*`, or already decided, as it is."""
    if not action.everywhere or not action.send:
        yield action
        return
    assert action.user_id is not None
    if directory is None:
        yield replace(
            action,
            outcome=Outcome.FAILED,
            message="could not find the user's accounts: "
            + (directory_error or "the user list was not read"),
        )
        return
    person = directory.people.get(action.user_id)
    if person is None or not person.accounts:
        yield replace(action, outcome=Outcome.MISSING, message="no user has this ID")
        return
    for account in sorted(person.accounts):
        yield replace(action, account=account)
