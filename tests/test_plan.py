"""plan: row checks, email resolution and duplicates, as tables."""

from collections.abc import Iterable

import pytest

from offboard.core.directory import Directory
from offboard.core.models import Action, Outcome, Row
from offboard.plan.rows import FirstSeen, Target, parse, plan


@pytest.mark.parametrize(
    ("account", "user", "expected"),
    [
        ("1000", "42", (1000, 42, None)),
        (1000, 42, (1000, 42, None)),
        (" 7 ", "a.b+tag@sub.example.co.uk", (7, None, "a.b+tag@sub.example.co.uk")),
        ("7", '"odd person"@example.com', (7, None, '"odd person"@example.com')),
        ("7", "user@localhost", (7, None, "user@localhost")),
        ("7", "Jos\u00e9@b\u00fccher.example", (7, None, "Jos\u00e9@b\u00fccher.example")),
        ("9223372036854775807", "1", (9223372036854775807, 1, None)),
    ],
)
def test_usable_rows(account, user, expected):
    """IDs as text or YAML ints, and odd but valid emails, are usable."""
    target = parse(Row(2, account, user))
    assert isinstance(target, Target)
    assert (target.account, target.user_id, target.email) == expected


@pytest.mark.parametrize(
    ("account", "user", "words"),
    [
        ("", "1", "account: is empty"),
        (None, "1", "account: is empty"),
        ("-5", "1", "account: must be a positive integer"),
        ("0", "1", "found 0"),
        ("1.0", "1", "account: must be a positive integer"),
        (1.0, "1", "found a float"),
        (True, "1", "found a bool"),
        ("9223372036854775808", "1", "larger than a 64-bit ID"),
        ("1" * 30, "1", "30-digit number"),
        ("abc", "1", "account: must be"),
        ("1", "", "user: is empty"),
        ("1", "-3", "user: must be a positive integer ID or an email"),
        ("1", "0", "user: must be a positive integer ID, found 0"),
        ("1", "bob", "user: must be a positive integer ID or an email"),
        ("1", "a@@b", "not a valid email"),
        ("1", "a b@c.d", "not a valid email"),
        ("1", "@c.d", "not a valid email"),
        ("1", "x" * 251 + "@c.d", "not a valid email"),
        ("1", [1, 2], "found a list"),
        ("\u00b2", "1", "account: must be a positive integer ID or * (every account)"),
        ("1", "\u0661\u0662", "user: must be a positive integer ID or an email address"),
        ("1", "\uff11\uff12", "user: must be a positive integer ID or an email address"),
    ],
)
def test_unusable_rows_name_the_field(account, user, words):
    """Each unusable value gives a message naming the field."""
    problem = parse(Row(2, account, user))
    assert isinstance(problem, str) and words in problem


def test_reader_problem_wins():
    """A row the reader already rejected stays rejected."""
    assert parse(Row(4, "1", "2", problem="has 4 fields, the header has 3")) == (
        "row has 4 fields, the header has 3"
    )


def _outcomes(actions: Iterable[Action]) -> list[tuple[int, Outcome | None, int | None]]:
    return [(a.row.number, a.outcome, a.user_id) for a in actions]


def test_emails_resolve_case_insensitively_and_duplicates_are_marked():
    """Email and ID rows for the same pair are one revoke; the later row is a duplicate."""
    rows = [
        Row(2, "1", "Ann@X.io"),
        Row(3, "1", "11"),
        Row(4, "2", "11"),
        Row(5, "1", "nobody@x.io"),
        Row(6, "1", "NOBODY@x.io"),
        Row(7, "x", "1"),
        Row(8, "1", "twin@x.io"),
    ]
    directory = Directory.from_users(
        [
            {"id": 11, "email": "ann@x.io"},
            {"id": 5, "email": "twin@x.io"},
            {"id": 6, "email": "TWIN@x.io"},
        ]
    )
    actions = list(plan(rows, directory))
    assert _outcomes(actions) == [
        (2, None, 11),
        (3, Outcome.DUPLICATE, 11),
        (4, None, 11),
        (5, Outcome.MISSING, None),
        (6, Outcome.DUPLICATE, None),
        (7, Outcome.INVALID, None),
        (8, Outcome.INVALID, None),
    ]
    assert "row 2" in actions[1].message and "5, 6" in actions[6].message


def test_unreadable_directory_fails_only_email_rows():
    """If the user list cannot be read, email rows fail with the reason; ID rows still go."""
    actions = list(plan([Row(2, "1", "a@x.io"), Row(3, "1", "9")], None, "HTTP 503"))
    assert _outcomes(actions) == [(2, Outcome.FAILED, None), (3, None, 9)]
    assert "HTTP 503" in actions[0].message


def test_first_seen_answers_alike_in_memory_and_on_disk():
    """FirstSeen keeps its first pairs in a dict and the rest in SQLite: across that boundary
    every duplicate names the same first row, on both passes, as all on disk does; a batch
    the dict holds never opens SQLite."""
    pairs = ["10 1", "10 2", "10 1", "20 1", "10 2", "30 5", "30 5", "10 1"]
    expected = [None, None, 100, None, 101, None, 105, 100]

    def two_passes(seen: FirstSeen) -> list[list[int | None]]:
        return [[seen.first(p, i, 100 + i) for i, p in enumerate(pairs)] for _ in range(2)]

    for room in (0, 1, 2, 3, 100):
        seen = FirstSeen(in_memory=room)
        assert two_passes(seen) == [expected, expected], room
        seen.close()
    held = FirstSeen(in_memory=100)
    two_passes(held)
    assert held._db is None
