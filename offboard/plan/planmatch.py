"""A plan file is checked against what its SOURCE means now, row by row.

plan.json is a file anyone with access to the report can edit. `run PLAN.json`
sends only what the plan lists, so a row added or changed by hand after review
would be sent unreviewed. The SOURCE's sha256 is checked elsewhere; here every
plan row is compared with the row the same SOURCE gives today (parsed, emails
resolved, duplicates marked), and any difference refuses the run before
anything is sent.

A row that names its person everywhere (`*`) is compared as a whole first: the plan
lists one pair per account the user had then, SOURCE one per account they have now.
A user who gained an account since would keep it unreviewed, one who lost one was
planned against a world that is gone: either refuses, naming both account lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby, zip_longest

from ..core.errors import Refused
from ..core.models import CHECKED_AT_PLAN_TIME, SENT_FROM_PLAN, Action, Outcome
from ..core.words import plain
from .planfile import Plan


def check_plan_matches(planned: Plan, now: Iterable[Action]) -> None:
    """Refuse (exit 2) a plan whose rows differ in any way from what SOURCE gives now."""
    for our_row, their_row in zip_longest(_rows(planned.actions), _rows(now)):
        both = our_row is not None and their_row is not None
        if both and _check_everywhere(planned, our_row or [], their_row or []):
            continue
        _check_pairs(planned, our_row or [], their_row or [])


def _rows(actions: Iterable[Action]) -> Iterator[list[Action]]:
    """The Actions of each input row together (a `*` row has one per account): a few each,
    so the plan is still read row by row."""
    for _, group in groupby(actions, key=lambda action: action.row.number):
        yield list(group)


def _check_everywhere(planned: Plan, ours: list[Action], theirs: list[Action]) -> bool:
    """A `*` row's accounts then (the plan's pairs) and now (SOURCE's) must be the same.
    True when the row is settled here: the plan could not read the user's accounts, so it
    runs as planned (failed), as a pair row the plan found failed does."""
    number = theirs[0].row.number
    if ours[0].row.number != number:
        return False  # _check_pairs names the row that moved
    if ours[0].everywhere != theirs[0].everywhere:
        which = "the plan" if ours[0].everywhere else "SOURCE"
        raise _differs(planned, number, f"only {which} names the person everywhere (*)")
    if not ours[0].everywhere:
        return False
    user = theirs[0].row.user
    who = user.strip() if isinstance(user, str) and "@" in user else f"user {plain(user)}"
    if _unknown(ours):
        mine, now = ours[0].row, theirs[0].row
        if (plain(mine.user), mine.extra) != (plain(now.user), now.extra):
            raise _differs(planned, number, "user or carried columns differ from SOURCE")
        return True
    if _unknown(theirs):
        raise _differs(planned, number, f"{who}'s accounts cannot be read now: {theirs[0].message}")
    then, now_ = _accounts(ours), _accounts(theirs)
    if then != now_:
        raise _differs(
            planned,
            number,
            f"{who}'s accounts changed since the plan (planned {then}; now {now_})",
        )
    return False


def _unknown(row: list[Action]) -> bool:
    """The user's accounts could not be read (no user list): one `failed` Action."""
    return len(row) == 1 and row[0].account is None and row[0].outcome is Outcome.FAILED


def _accounts(actions: list[Action]) -> str:
    found = sorted({a.account for a in actions if a.account is not None})
    return ", ".join(str(account) for account in found) or "none"


def _check_pairs(planned: Plan, our_row: list[Action], their_row: list[Action]) -> None:
    for ours, theirs in zip_longest(our_row, their_row):
        if ours is None or theirs is None:
            which = theirs if ours is None else ours
            assert which is not None
            raise _differs(
                planned, which.row.number, "the plan and SOURCE have a different number of rows"
            )
        number = theirs.row.number
        if ours.row.number != number:
            raise _differs(planned, ours.row.number, f"SOURCE has row {number} here")
        if (plain(ours.row.user), ours.row.extra) != (plain(theirs.row.user), theirs.row.extra):
            raise _differs(planned, number, "user or carried columns differ from SOURCE")
        if str(_account(ours)) != str(_account(theirs)):
            raise _differs(planned, number, "account differs from SOURCE")
        _check_outcome(planned, ours, theirs)


def _check_outcome(planned: Plan, ours: Action, theirs: Action) -> None:
    number = theirs.row.number
    if ours.send:  # planned would_revoke / token_blocked: SOURCE must send the same pair
        if not theirs.send or (ours.account, ours.user_id) != (theirs.account, theirs.user_id):
            raise _differs(
                planned,
                number,
                "the plan would revoke a pair SOURCE does not give "
                f"(account {ours.account}, user ID {ours.user_id})",
            )
        return
    if theirs.send:
        if ours.outcome in CHECKED_AT_PLAN_TIME - SENT_FROM_PLAN:
            return
        raise _differs(planned, number, f"planned {ours.outcome}, SOURCE gives a revoke")
    if ours.outcome is not theirs.outcome and ours.outcome not in CHECKED_AT_PLAN_TIME:
        raise _differs(planned, number, f"planned {ours.outcome}, SOURCE gives {theirs.outcome}")


def _account(action: Action) -> object:
    return action.account if action.account is not None else plain(action.row.account)


def _differs(planned: Plan, row: int, why: str) -> Refused:
    return Refused(
        f"{planned.path}: row {row}: {why}: the plan does not match "
        f"{planned.source}; nothing was sent. Run `offboard plan` again"
    )
