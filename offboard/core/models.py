"""The values that flow through a run, one stage to the next.

    read (source/read.py) -> Row -> plan (plan/rows.py) -> Action -> execute (execute/workers.py)
    -> Exchange -> classify (execute/classify.py) -> Result -> report (journal/writer.py)

Every boundary value is frozen: a stage never changes what an earlier one produced.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The columns of every list offboard writes (results.csv, <outcome>.csv), before the carried
# input columns: the contract's order. A list offboard wrote is itself a valid SOURCE.
REPORT_COLUMNS = ("row", "account", "user", "user_id", "outcome", "http_status", "attempts",
                  "request_id", "message", "name", "email", "user_deleted", "verified",
                  "settled_at")


class Outcome(enum.StrEnum):
    """The outcomes of the contract; the values are the public strings."""

    REVOKED = "revoked"
    MISSING = "missing"
    TOKEN_BLOCKED = "token_blocked"
    FORBIDDEN = "forbidden"
    FAILED = "failed"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    NOT_ATTEMPTED = "not_attempted"
    WOULD_REVOKE = "would_revoke"

    @property
    def settled(self) -> bool:
        """True when the row needs no person (exit code 0 if every row is like this)."""
        return self in _SETTLED


# The contract's words for a 404 that may answer our own revoke (plan/deletions.py and
# execute/classify.py use them).
MAYBE_APPLIED = "an earlier attempt may have revoked the access"

_SETTLED = frozenset({Outcome.REVOKED, Outcome.MISSING, Outcome.DUPLICATE, Outcome.WOULD_REVOKE})


def plain(value: Any) -> Any:
    """An input value as the person wrote it, or `<list>`-style for anything else.

    YAML can put a whole structure (even an alias bomb) where a scalar belongs:
    it is never turned into text, only named.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__}>"


def pair_words(account: Any, user: Any) -> str:
    """'account 1000 user 12' for a line a person reads; a part the row lacks is left out
    (an invalid row may have neither, and 'account None' reads as a value)."""
    return " ".join(f"{name} {value}" for name, value in (("account", account), ("user", user))
                    if value not in (None, ""))


@dataclass(frozen=True, slots=True)
class Row:
    """One input row as the person wrote it, before any checking.

    `number` is what a person sees: the CSV line number (header = 1) or the
    1-based position in a YAML list. `extra` holds the carried columns.
    `problem` is set when the reader already knows the row is unusable
    (a CSV line with too many fields, a YAML item that is not a mapping).
    """

    number: int
    account: Any
    user: Any
    extra: dict[str, str] = field(default_factory=dict)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """What the plan decided for one row.

    Either `send` is True and (account, user_id) is the pair to revoke, or
    `outcome` already says how the row ends (invalid, duplicate, missing email)
    and nothing is sent.
    """

    row: Row
    account: int | None
    user_id: int | None
    outcome: Outcome | None = None
    message: str = ""

    @property
    def send(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class Exchange:
    """What happened on the wire for one logical request, retries included.

    `status` is the last HTTP status (None when the last attempt got no
    response). `maybe_applied` is True when an attempt before the last one may
    have reached the API and changed something (a timeout or dropped connection
    after sending, or a 5xx): a later 404 then cannot be trusted as "never there".
    """

    status: int | None
    attempts: int
    message: str = ""
    request_id: str = ""
    error: str = ""
    maybe_applied: bool = False
    retry_after: float | None = None
    note: str = ""  # why retrying stopped early, if it did
    body: Any = None


@dataclass(frozen=True, slots=True)
class Token:
    """A user's live API token, as the token listing describes it."""

    id: int
    name: str = ""
    issuer: str = ""  # the email of the user who issued it
    expires: str = ""
    role: str = ""  # its group's name: a deleted token cannot come back, so say what it was


@dataclass(frozen=True, slots=True)
class LoginFact:
    """What the key account's login log says about one row's user.

    Made by source/leaving.py and execute/activity.py.

    `flag` is "after_leaving" (a successful login after the row's leave_date: a possible
    security incident), "active" (no leave_date, a login within --active-days: a warning),
    "quiet" (neither) or "unknown" (the log could not be read, or not far enough: `note`).
    """

    flag: str
    leave_date: str = ""  # as the row gave it
    login_at: str = ""  # the last successful login, UTC RFC 3339 ("" if none was seen)
    ip_address: str = ""
    user_agent: str = ""
    since: str = ""  # the log was read back to this moment ("" = all of it)
    note: str = ""

    def to_json(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__
                if getattr(self, name) or name == "flag"}


@dataclass(frozen=True, slots=True)
class Result:
    """How one input row ended: one line of the report."""

    row: Row
    outcome: Outcome
    account: int | None = None
    user_id: int | None = None
    http_status: int | None = None
    attempts: int = 0
    request_id: str = ""
    message: str = ""
    tokens: tuple[Token, ...] = ()  # the user's live API tokens, when they blocked the revoke
    # True on the row whose revoke removed the user's last account (plan/deletions.py);
    # None when the user list did not know the user.
    user_deleted: bool | None = False
    settled_at: str = ""  # UTC ISO 8601; set when the row is journaled
    login: LoginFact | None = None  # the user's login activity (None: not looked at)


@dataclass(frozen=True, slots=True)
class ReadBack:
    """What reading membership back after the revokes found."""

    verdicts: Mapping[int, Mapping[str, Any]]  # row number -> the record's changed fields
    method: str  # "per_row", "listing" or "" (nothing to read)
    requests: int  # reads sent (re-reads included)
