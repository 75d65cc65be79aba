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

from .logins import LoginFact

# The columns of every list offboard writes (results.csv, <outcome>.csv), before the carried
# input columns: the contract's order. A list offboard wrote is itself a valid SOURCE.
REPORT_COLUMNS = (
    "row",
    "account",
    "user",
    "user_id",
    "outcome",
    "http_status",
    "attempts",
    "request_id",
    "message",
    "name",
    "email",
    "user_deleted",
    "verified",
    "settled_at",
    "account_name",
)
# A row's `account` that names a person everywhere: every account the user list shows for
# the user (`client_and_roles`). Compared after trimming, case-insensitively.
EVERYWHERE = "*"
EVERYWHERE_WORDS = frozenset({"*", "all"})


class Outcome(enum.StrEnum):
    """The outcomes of the contract; the values are the public strings.

    Every grouping of outcomes is named once, below, and imported where it is used
    (tests/test_models.py checks that no other module spells one out).
    """

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
        return self in SETTLED


# The contract's "needs a person" column, most actionable first: the order report.html and
# summary.txt list them in.
NEEDS_A_PERSON = (
    Outcome.TOKEN_BLOCKED,
    Outcome.FORBIDDEN,
    Outcome.FAILED,
    Outcome.NOT_ATTEMPTED,
    Outcome.INVALID,
    Outcome.SKIPPED,
)
# Nothing left to do (exit code 0 when every row is one of these).
SETTLED = frozenset(Outcome) - frozenset(NEEDS_A_PERSON)
# Never sent again by a resume (or a later folder run): settled for good, or (forbidden,
# invalid) needing a person to change something first. Every other row is retried.
NOT_SENT_AGAIN = frozenset(
    {Outcome.REVOKED, Outcome.MISSING, Outcome.DUPLICATE, Outcome.INVALID, Outcome.FORBIDDEN}
)
# The account no longer has the user (plan/deletions.py counts these).
GONE = frozenset({Outcome.REVOKED, Outcome.MISSING})
# A revoke: done (a run's) or planned (a plan's); see Mode.revoking.
REVOKING = frozenset({Outcome.REVOKED, Outcome.WOULD_REVOKE})
# Planned rows that `run PLANFILE` sends (plan/planfile.py).
SENT_FROM_PLAN = frozenset({Outcome.WOULD_REVOKE, Outcome.TOKEN_BLOCKED})
# What a plan could only have learned from the API (membership, tokens): a row the SOURCE
# sends today may have been planned as one of these instead (plan/planmatch.py).
CHECKED_AT_PLAN_TIME = frozenset(
    {Outcome.MISSING, Outcome.FORBIDDEN, Outcome.FAILED, Outcome.SKIPPED, Outcome.TOKEN_BLOCKED}
)


class Mode(enum.StrEnum):
    """What a job does: `run` revokes, `plan` only checks. The values are the command's
    name, as run.json and summary.json record it ("command")."""

    RUN = "run"
    PLAN = "plan"

    @property
    def revoking(self) -> Outcome:
        """The outcome of a row this mode revokes (or would)."""
        return Outcome.REVOKED if self is Mode.RUN else Outcome.WOULD_REVOKE

    @property
    def always_written(self) -> tuple[Outcome, ...]:
        """The lists an HR team acts on: written even when empty (header only)."""
        return (self.revoking, Outcome.TOKEN_BLOCKED, Outcome.MISSING)


# The contract's words for a 404 that may answer our own revoke (execute/classify.py writes
# them; a journal from before Result.maybe_applied is read by them, journal/reader.py).
MAYBE_APPLIED = "an earlier attempt may have revoked the access"


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
    # The row named the person everywhere (`*`): this is one of its expanded pairs.
    everywhere: bool = False
    account_name: str = ""  # the account's `client_company_name` ("" when unknown)

    @property
    def send(self) -> bool:
        return self.outcome is None

    def unsent(self, reason: str) -> Action:
        """This row when an abort (`reason`) keeps it from being sent: `not_attempted`.
        The one place such a row is made (execute/workers.py turns it into a Result)."""
        return Action(
            self.row,
            self.account,
            self.user_id,
            Outcome.NOT_ATTEMPTED,
            f"not sent: {reason}",
            self.everywhere,
            self.account_name,
        )


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
    # A 404 that may answer an earlier attempt of our own revoke (execute/classify.py;
    # the message says so in the contract's words): plan/deletions.py counts it as ours.
    maybe_applied: bool = False
    account_name: str = ""  # the account's `client_company_name` ("" when unknown)
    everywhere: bool = False  # one pair of a row that named the person everywhere (`*`)

    def marked(self, *, user_deleted: bool | None, login: LoginFact | None, message: str) -> Result:
        """This result with the row marks' fields (plan/deletions.py, execute/activity.py):
        what dataclasses.replace gives, for a fraction of its cost (two marks a row; a field
        added here must be copied here too, which tests/test_models.py checks)."""
        return Result(
            self.row,
            self.outcome,
            self.account,
            self.user_id,
            self.http_status,
            self.attempts,
            self.request_id,
            message,
            self.tokens,
            user_deleted,
            self.settled_at,
            login,
            self.maybe_applied,
            self.account_name,
            self.everywhere,
        )

    @classmethod
    def decided(cls, action: Action) -> Result:
        """The result of a row the plan (or an abort, Action.unsent) already decided:
        nothing is sent for it."""
        assert action.outcome is not None
        return cls(
            action.row,
            action.outcome,
            action.account,
            action.user_id,
            message=action.message,
            user_deleted=None if action.user_id is None else False,
            account_name=action.account_name,
            everywhere=action.everywhere,
        )


@dataclass(frozen=True, slots=True)
class ReadBack:
    """What reading membership back after the revokes found."""

    # (row number, account) -> the record's changed fields
    verdicts: Mapping[tuple[int, int], Mapping[str, Any]]
    method: str  # "per_row", "listing" or "" (nothing to read)
    requests: int  # reads sent (re-reads included)
    # Every user's accounts after the revokes (user ID -> account IDs), when the listing was
    # read: what each person of the batch still reaches (report/people.py). None: not read.
    after: Mapping[int, frozenset[int]] | None = None
    names: Mapping[int, str] = field(default_factory=dict)  # its accounts' names
