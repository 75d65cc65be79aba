"""guards: who is held back, the cap, and who a batch would delete (pure functions)."""

from collections.abc import Iterable

import pytest

from offboard.core.directory import Directory
from offboard.core.errors import SettingsError
from offboard.core.models import Action, Outcome, Row
from offboard.core.settings import Protection
from offboard.plan.deletions import Decider
from offboard.plan.guards import check_cap, guard

DIRECTORY = Directory.from_users(
    [
        {"id": 1, "email": "it@x.io", "client_and_roles": [{"client_id": 10}]},
        {"id": 7, "email": "Boss@X.io", "client_and_roles": [{"client_id": 10}, {"client_id": 20}]},
        {"id": 8, "email": "eve@x.io", "client_and_roles": [{"client_id": 10}]},
        {"id": 9, "email": "nobody@x.io"},
    ]
)


def hold_back(
    actions: Iterable[Action], protection: Protection, directory: Directory | None
) -> list[Action]:
    return [guard(action, protection, directory) for action in actions]


def doomed_users(actions: Iterable[Action], directory: Directory | None) -> frozenset[int]:
    decider = Decider()  # as the session does: one row at a time, then the user list
    for action in actions:
        decider.add(action)
    return frozenset(decider.decide(directory).accounts)


def send(number: int, account: int, user_id: int, user: str | None = None) -> Action:
    return Action(Row(number, str(account), user or str(user_id)), account, user_id)


def test_own_user_and_protected_ids_and_emails_are_skipped():
    """The key's user, a protected ID and a protected email (matched via the list) are held."""
    protection = Protection.parse(["8", "boss@x.io"], "--protect").merged_own(1)
    actions = [
        send(2, 10, 1),
        send(3, 10, 7),
        send(4, 20, 8),
        send(5, 10, 9),
        Action(Row(6, "x", "y"), None, None, Outcome.INVALID, "bad"),
    ]
    held = hold_back(actions, protection, DIRECTORY)
    assert [a.outcome for a in held] == [Outcome.SKIPPED] * 3 + [None, Outcome.INVALID]
    assert "own user" in held[0].message and "protected" in held[1].message


def test_protected_email_matches_the_rows_own_email_without_a_directory():
    """An email row matching a protected email is held even if the user list is missing."""
    held = hold_back([send(2, 10, 7, "BOSS@x.io")], Protection.parse(["boss@x.io"], "p"), None)
    assert held[0].outcome is Outcome.SKIPPED


@pytest.mark.parametrize("value", ["", "bob", "0", True, 1.5, "a b@c"])
def test_bad_protect_entries_are_refused(value):
    """A protect entry must be a positive user ID or an email."""
    with pytest.raises(SettingsError):
        Protection.parse([value], "job.yaml: protect")


def test_cap():
    """At the cap is fine; one above refuses with the way to raise it."""
    check_cap(50, 50)
    with pytest.raises(SettingsError, match="--max-revocations 51"):
        check_cap(51, 50)


def test_doomed_users_are_those_losing_every_account():
    """Revoking all of a user's accounts deletes them; one of two does not; unknown users
    and users without account data are never counted."""
    actions = [send(2, 10, 7), send(3, 10, 8), send(4, 10, 9), send(5, 10, 42)]
    assert doomed_users(actions, DIRECTORY) == {8}
    assert doomed_users([*actions, send(6, 20, 7)], DIRECTORY) == {7, 8}
    assert doomed_users(actions, None) == frozenset()
