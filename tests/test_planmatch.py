"""plan/planmatch.py: a plan's `*` rows against what SOURCE gives now, as a table, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from offboard.core.errors import Refused
from offboard.core.models import Action, Outcome, Row
from offboard.plan.deletions import Deletions
from offboard.plan.planfile import Plan
from offboard.plan.planmatch import check_plan_matches

STAR = Row(3, "*", "alice@acme.example")
PAIR = Row(2, "1000", "7")


def pairs(*accounts: int, row: Row = STAR) -> list[Action]:
    return [Action(row, account, 11, everywhere=True) for account in accounts]


def plan_of(actions: list[Action]) -> Plan:
    return Plan(
        Path("plan.json"),
        "0" * 64,
        "/srv/hr.csv",
        "1" * 64,
        datetime.now(UTC),
        "me",
        1,
        (Action(PAIR, 1000, 7), *actions),
        Deletions(),
    )


def refusal(planned: list[Action], now: list[Action]) -> str:
    with pytest.raises(Refused) as caught:
        check_plan_matches(plan_of(planned), [Action(PAIR, 1000, 7), *now])
    return str(caught.value)


@pytest.mark.parametrize(
    ("then", "now", "words"),
    [
        ((1000, 2000), (1000, 2000, 3000), "(planned 1000, 2000; now 1000, 2000, 3000)"),
        ((1000, 2000), (1000,), "(planned 1000, 2000; now 1000)"),
        ((1000, 2000), (1000, 3000), "(planned 1000, 2000; now 1000, 3000)"),
    ],
)
def test_a_star_row_whose_accounts_changed_is_refused(then, now, words):
    """Gained, lost or swapped accounts: one line naming the row, the user, then and now."""
    assert refusal(pairs(*then), pairs(*now)) == (
        f"plan.json: row 3: alice@acme.example's accounts changed since the plan {words}: "
        "the plan does not match /srv/hr.csv; nothing was sent. Run `offboard plan` again"
    )


def test_a_star_row_with_the_same_accounts_matches():
    """The same accounts, in the same order: the plan runs."""
    check_plan_matches(plan_of(pairs(1000, 2000)), [Action(PAIR, 1000, 7), *pairs(1000, 2000)])


def test_a_person_unknown_at_plan_time_who_exists_now_is_refused():
    """Planned `missing` (no user had the email), SOURCE now expands to an account."""
    missing = [Action(STAR, None, None, Outcome.MISSING, "no user has this email", True)]
    assert "(planned none; now 1000)" in refusal(missing, pairs(1000))


def test_a_star_row_whose_accounts_the_plan_could_not_read_runs_as_planned():
    """Planned `failed` (the user list was unreadable): nothing to compare, as for a pair row
    planned failed; the run reports it failed at plan time."""
    failed = [Action(STAR, None, 11, Outcome.FAILED, "could not find the user's accounts", True)]
    check_plan_matches(plan_of(failed), [Action(PAIR, 1000, 7), *pairs(1000, 2000)])


def test_a_user_given_by_id_is_named_as_a_user():
    """A `*` row naming a user ID says `user 11's accounts`."""
    by_id = Row(3, "*", "11")
    assert "row 3: user 11's accounts changed" in refusal(
        pairs(1000, row=by_id), pairs(1000, 2000, row=by_id)
    )


def test_everywhere_on_one_side_only_is_refused():
    """A plan row from `*` against SOURCE's pair row (or the reverse) names which side."""
    pair = [Action(Row(3, "1000", "alice@acme.example"), 1000, 11)]
    assert "row 3: only the plan names the person everywhere (*)" in refusal(pairs(1000), pair)
    assert "row 3: only SOURCE names the person everywhere (*)" in refusal(pair, pairs(1000))


def test_a_star_row_whose_accounts_cannot_be_read_now_is_refused():
    """Planned pairs, but the user list cannot be read now: refused, saying why."""
    failed = [Action(STAR, None, 11, Outcome.FAILED, "could not find the user's accounts", True)]
    assert "row 3: alice@acme.example's accounts cannot be read now: could not find" in refusal(
        pairs(1000), failed
    )
