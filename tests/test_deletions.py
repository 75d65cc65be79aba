"""deletions: the one answer to "who does this batch delete?", and the row that did it."""

from collections.abc import Iterable

from offboard.core.directory import Directory, Person
from offboard.core.models import Action, Outcome, Result, Row
from offboard.plan.deletions import Decider, Deletions, Tracker

DIRECTORY = Directory.from_users(
    [
        {"id": 7, "email": "two@x.io", "client_and_roles": [{"client_id": 10}, {"client_id": 20}]},
        {"id": 8, "email": "one@x.io", "client_and_roles": [{"client_id": 10}]},
        {
            "id": 9,
            "email": "three@x.io",
            "client_and_roles": [{"client_id": 10}, {"client_id": 20}, {"client_id": 30}],
        },
    ]
)


def send(number: int, account: int, user_id: int) -> Action:
    return Action(Row(number, str(account), str(user_id)), account, user_id)


def decide(actions: Iterable[Action], directory: Directory | None) -> Deletions:
    """Who the batch deletes, as the session asks it: one row at a time, then the list."""
    decider = Decider()
    for action in actions:
        decider.add(action)
    return decider.decide(directory)


def settled(
    number: int,
    account: int,
    user_id: int,
    outcome: Outcome = Outcome.REVOKED,
    message: str = "",
    maybe: bool = False,
) -> Result:
    return Result(
        Row(number, str(account), str(user_id)),
        outcome,
        account,
        user_id,
        message=message,
        maybe_applied=maybe,
    )


def test_a_user_is_deleted_when_the_batch_revokes_every_listed_account():
    """Two of two accounts: deleted; two of three: not; one of one: deleted; a user the
    list does not know: unknown, never "not deleted"."""
    answer = decide(
        [
            send(2, 10, 7),
            send(3, 20, 7),
            send(4, 10, 9),
            send(5, 20, 9),
            send(6, 10, 8),
            send(7, 10, 42),
        ],
        DIRECTORY,
    )
    assert dict(answer.accounts) == {7: {10, 20}, 8: {10}}
    assert answer.unknown == {42} and len(answer) == 2
    assert [answer.planned_mark(7, n, a) for n, a in ((2, 10), (3, 20))] == [False, True]
    assert answer.planned_mark(9, 5, 20) is False and answer.planned_mark(42, 7, 10) is None


def test_the_mark_goes_on_one_pair_of_a_star_row():
    """The pairs of a `*` row share its number: the mark goes on the last pair only."""
    answer = decide([send(2, 10, 7), send(2, 20, 7)], DIRECTORY)
    assert (answer.last_row, answer.last_account) == ({7: 2}, {7: 20})
    assert [answer.planned_mark(7, 2, a) for a in (10, 20)] == [False, True]


def test_the_mark_goes_on_the_last_row_in_a_listed_account():
    """A row in an account the user is not in (it will be `missing`) never carries the mark."""
    answer = decide([send(2, 10, 8), send(3, 20, 8)], DIRECTORY)
    assert answer.last_row == {8: 2}


def test_without_a_user_list_nobody_is_doomed_and_everyone_is_unknown():
    answer = decide([send(2, 10, 7)], None)
    assert len(answer) == 0 and answer.unknown == {7}


def test_the_tracker_marks_the_revoke_that_removed_the_last_account():
    """Whatever the order rows settle in, the last of the user's accounts to go carries the
    mark; a blocked account means no mark at all."""
    answer = decide([send(2, 10, 7), send(3, 20, 7), send(4, 10, 8)], DIRECTORY)
    tracker = Tracker(answer)
    assert tracker.settle(settled(3, 20, 7)) is False
    assert tracker.settle(settled(4, 10, 8)) is True
    assert tracker.settle(settled(2, 10, 7)) is True
    blocked = Tracker(answer)
    assert blocked.settle(settled(2, 10, 7, Outcome.TOKEN_BLOCKED)) is False
    assert blocked.settle(settled(3, 20, 7)) is False
    assert Tracker(answer).settle(settled(9, 10, 42, Outcome.REVOKED)) is False


def test_rows_carried_from_an_earlier_run_count_first():
    """A resume marks the same row an uninterrupted run would: the earlier run's revokes
    are counted before the new ones settle."""
    answer = decide([send(2, 10, 7), send(3, 20, 7)], DIRECTORY)
    tracker = Tracker(answer)
    tracker.carried(settled(2, 10, 7))
    assert tracker.settle(settled(3, 20, 7)) is True


def test_a_404_after_a_revoke_that_may_have_been_applied_counts_as_ours():
    """The row in flight when a run died answers 404 on resume: it still deleted the user;
    a plain 404 (the user was never there) deletes nobody."""
    answer = decide([send(2, 10, 8)], DIRECTORY)
    maybe = settled(2, 10, 8, Outcome.MISSING, "404 on a retry", maybe=True)
    assert Tracker(answer).settle(maybe) is True
    assert Tracker(answer).settle(settled(2, 10, 8, Outcome.MISSING, "not in account")) is False


def test_the_answer_survives_run_json():
    answer = decide([send(2, 10, 7), send(3, 20, 7), send(4, 10, 42)], DIRECTORY)
    assert Deletions.from_json(answer.to_json()) == answer
    assert Deletions.from_json({"accounts": "x"}) is None


def test_a_duplicate_settling_first_does_not_keep_the_user():
    """A duplicate is not sent: settling before the revoke it repeats, it must not count as
    an account the user keeps (rows 12, 12 of the same user: the revoke marks the user)."""
    answer = decide([send(2, 10, 8), send(4, 10, 7), send(5, 20, 7)], DIRECTORY)
    tracker = Tracker(answer)
    assert tracker.settle(settled(3, 10, 8, Outcome.DUPLICATE)) is False
    assert tracker.settle(settled(2, 10, 8)) is True
    assert tracker.settle(settled(6, 20, 7, Outcome.DUPLICATE)) is False
    assert tracker.settle(settled(4, 10, 7)) is False
    assert tracker.settle(settled(5, 20, 7)) is True


def test_a_row_without_a_user_makes_no_claim():
    """An email that matches no user (or an invalid row) has no user: user_deleted empty."""
    row = Result(Row(2, "10", "nobody@x.io"), Outcome.MISSING, 10, None)
    assert Tracker(decide([], DIRECTORY)).settle(row) is None


def test_a_resume_decides_again_for_a_doomed_user_who_gained_an_account():
    """The run's answer stands, but for a user who reaches more accounts today: then today's
    batch decides (deleted only if it revokes every account they now have)."""
    recorded = Deletions({7: frozenset({10, 20}), 8: frozenset({10})}, {7: 3, 8: 2})
    assert recorded.regrown(Deletions(), DIRECTORY) is recorded  # nobody grew
    today = Directory.from_users(
        [
            {"id": 7, "email": "two@x.io", "client_and_roles": [{"client_id": 30}]},
            {"id": 8, "email": "one@x.io", "client_and_roles": [{"client_id": 10}]},
        ]
    ).with_recorded({7: Person(7, "two@x.io", frozenset({10, 20}))})
    kept_out = recorded.regrown(decide([send(3, 10, 7), send(3, 20, 7)], today), today)
    assert (kept_out.accounts, kept_out.last_row) == ({8: frozenset({10})}, {8: 2})
    everywhere = [send(3, 10, 7), send(3, 20, 7), send(3, 30, 7)]
    still = recorded.regrown(decide(everywhere, today), today)
    assert still.accounts[7] == {10, 20, 30} and still.last_row[7] == 3
