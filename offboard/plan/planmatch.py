"""A plan file is checked against what its SOURCE means now, row by row.

plan.json is a file anyone with access to the report can edit. `run PLAN.json`
sends only what the plan lists, so a row added or changed by hand after review
would be sent unreviewed. The SOURCE's sha256 is checked elsewhere; here every
plan row is compared with the row the same SOURCE gives today (parsed, emails
resolved, duplicates marked), and any difference refuses the run before
anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest

from ..core.errors import Refused
from ..core.models import CHECKED_AT_PLAN_TIME, SENT_FROM_PLAN, Action, plain
from .planfile import Plan


def check_plan_matches(planned: Plan, now: Iterable[Action]) -> None:
    """Refuse (exit 2) a plan whose rows differ in any way from what SOURCE gives now."""
    for ours, theirs in zip_longest(planned.actions, now):
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
