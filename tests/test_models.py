"""One definition per concept: every outcome grouping, the Mode, and the "maybe applied" mark
live in core/models.py (the restore's outcomes in core/restore_record.py), and nothing else in
the package spells them again."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from offboard.core import models
from offboard.core.models import (
    CHECKED_AT_PLAN_TIME,
    GONE,
    NEEDS_A_PERSON,
    NOT_SENT_AGAIN,
    REVOKING,
    SENT_FROM_PLAN,
    SETTLED,
    Action,
    Mode,
    Outcome,
    Result,
    Row,
)
from offboard.core.restore_record import (
    RESTORE_ALWAYS_WRITTEN,
    RESTORE_FINE,
    RESTORE_GIVEN_BACK,
    RESTORE_NOT_SENT_AGAIN,
    RestoreOutcome,
)

PACKAGE = Path(models.__file__).resolve().parent.parent
# Where outcomes are defined: a run's, and the restore's.
OUTCOME_HOMES = frozenset({"core/models.py", "core/restore_record.py"})

# The contract's outcome table, "needs a person" column (shared/contract.md, "Outcomes").
CONTRACT_NEEDS_A_PERSON = {
    "revoked": False,
    "missing": False,
    "token_blocked": True,
    "forbidden": True,
    "failed": True,
    "invalid": True,
    "duplicate": False,
    "skipped": True,
    "not_attempted": True,
    "would_revoke": False,
}


def test_the_outcomes_and_the_needs_a_person_column_are_the_contracts():
    """Outcome's values are the contract's strings, and SETTLED / NEEDS_A_PERSON (and the
    `settled` property) split them exactly as the contract's "needs a person" column does."""
    assert {str(o) for o in Outcome} == set(CONTRACT_NEEDS_A_PERSON)
    assert {str(o) for o in NEEDS_A_PERSON} == {o for o, p in CONTRACT_NEEDS_A_PERSON.items() if p}
    assert frozenset(Outcome) - frozenset(NEEDS_A_PERSON) == SETTLED
    assert all(o.settled is not CONTRACT_NEEDS_A_PERSON[o] for o in Outcome)
    assert len(set(NEEDS_A_PERSON)) == len(NEEDS_A_PERSON)


def test_every_grouping_is_made_of_the_one_outcome_and_agrees_with_the_contract():
    """Each named set holds members of the one Outcome, and what it means is true of them:
    gone and revoking rows need no person; a resume sends again every row that needs a
    person except those a person must change first (invalid, forbidden); a plan sends only
    rows it checked against the API."""
    groups = (SETTLED, NOT_SENT_AGAIN, GONE, SENT_FROM_PLAN, CHECKED_AT_PLAN_TIME, REVOKING)
    for group in groups:
        assert group and all(type(o) is Outcome for o in group), group
    assert GONE <= SETTLED and REVOKING <= SETTLED
    assert {Outcome.INVALID, Outcome.FORBIDDEN} == NOT_SENT_AGAIN - SETTLED
    assert Outcome.WOULD_REVOKE not in NOT_SENT_AGAIN  # a plan's rows are never carried
    assert {Outcome.WOULD_REVOKE} == SENT_FROM_PLAN - CHECKED_AT_PLAN_TIME
    for mode in Mode:
        assert mode.revoking in REVOKING
        assert set(mode.always_written) == {mode.revoking, Outcome.TOKEN_BLOCKED, Outcome.MISSING}
    assert {str(m) for m in Mode} == {"run", "plan"}  # as run.json and summary.json say


def test_restore_has_its_own_outcomes_not_a_second_outcome_class():
    """The restore's outcomes are RestoreOutcome (its report's strings); its groupings are
    made of them, and its settled rows are exactly the ones it never sends again."""
    assert {str(o) for o in RestoreOutcome} == {
        "restored",
        "already_member",
        "failed",
        "not_restorable",
        "not_attempted",
        "would_restore",
    }
    groups = (RESTORE_NOT_SENT_AGAIN, RESTORE_FINE, RESTORE_GIVEN_BACK)
    for group in (*groups, frozenset(RESTORE_ALWAYS_WRITTEN)):
        assert group and all(type(o) is RestoreOutcome for o in group), group
    assert {RestoreOutcome.NOT_RESTORABLE} == RESTORE_NOT_SENT_AGAIN - RESTORE_FINE
    assert set(RESTORE_ALWAYS_WRITTEN) == RESTORE_GIVEN_BACK
    assert RESTORE_GIVEN_BACK <= RESTORE_NOT_SENT_AGAIN & RESTORE_FINE


def _modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.relative_to(PACKAGE).parts[0] != "sandbox"
        and p.relative_to(PACKAGE).as_posix() not in OUTCOME_HOMES
    ]


def _spelled(node: ast.expr) -> str | None:
    """The outcome an element of a literal names (`Outcome.X` or the string), else None."""
    names = {o.name for o in (*Outcome, *RestoreOutcome)}
    values = {str(o) for o in (*Outcome, *RestoreOutcome)}
    if isinstance(node, ast.Attribute) and node.attr in names:
        return node.attr
    if isinstance(node, ast.Constant) and node.value in values:
        return str(node.value)
    return None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_other_module_spells_a_grouping_of_outcomes(path):
    """Outside OUTCOME_HOMES no module defines an Outcome class or a set, tuple or list of
    two or more outcomes: a grouping is named once, next to the enum, and imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Outcome"):
            found.append(f"line {node.lineno}: class {node.name}")
        if isinstance(node, ast.Set | ast.Tuple | ast.List):
            spelled = [s for s in map(_spelled, node.elts) if s]
            if len(spelled) >= 2:
                found.append(f"line {node.lineno}: {spelled}")
    assert not found, found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_tests_the_command_as_a_string(path):
    """The mode is a Mode, not `command == "plan"`: no comparison of a command or mode with
    the strings "run" or "plan" outside core/models.py."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(s, ast.Constant) and s.value in ("run", "plan") for s in sides) and any(
            "command" in ast.unparse(s) or "mode" in ast.unparse(s) for s in sides
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not found, found


def test_not_attempted_is_made_in_one_place():
    """An action an abort leaves unsent: `not_attempted`, saying it was not sent and why,
    with its pair; the row worker's result for such a row is built from that same action."""
    action = Action(Row(4, "10", "7"), 10, 7)
    unsent = action.unsent("interrupted by SIGINT")
    assert (unsent.outcome, unsent.message, unsent.account, unsent.user_id) == (
        Outcome.NOT_ATTEMPTED,
        "not sent: interrupted by SIGINT",
        10,
        7,
    )
    assert not unsent.send
    result = Result.decided(unsent)
    assert (
        result.outcome,
        result.message,
        result.account,
        result.user_id,
        result.user_deleted,
        result.attempts,
    ) == (Outcome.NOT_ATTEMPTED, "not sent: interrupted by SIGINT", 10, 7, False, 0)


def test_marked_is_replace_of_the_row_marks_fields():
    """Result.marked gives what dataclasses.replace gives for the row marks' fields, every
    other field kept (each field a distinct value: a field added and not copied fails)."""
    values: dict[str, Any] = {f.name: object() for f in dataclasses.fields(Result)}
    result = Result(**values)
    marks: dict[str, Any] = {"user_deleted": object(), "login": object(), "message": object()}
    got, want = result.marked(**marks), dataclasses.replace(result, **marks)
    assert [getattr(got, f.name) for f in dataclasses.fields(Result)] == [
        getattr(want, f.name) for f in dataclasses.fields(Result)
    ]
