"""`offboard restore` of a run whose row named its person everywhere (`*`, issue 21 item 5):
the real CLI against the sandbox over loopback.

One `*` row becomes one revoked pair per account; the restore gives each pair back with the
role the user had in that account, and its plan, report, mark and resume keep the pairs apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from offboard.sandbox import Sandbox

from .conftest import WORLD, Cli, world
from .test_restore_e2e import members, rows, state

# ann is a User in 10 and an Engineer in 20: two accounts, two roles, one row.
ANN_TWO_ROLES: list[dict[str, Any]] = [
    {**u, "roles": {10: "Users", 20: "Engineers"}} if u["id"] == 101 else u for u in WORLD["users"]
]


def revoke_everywhere(cli: Cli, sb: Sandbox) -> Path:
    """A run of one `*` row for ann: both her accounts revoked, and Gcore deletes her."""
    cli.write("leavers.csv", "account,user,ticket\n*,ann@t.example,T9\n")
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--report-dir", "run")
    assert done.returncode == 0, done.stderr
    revoked = [(r["row"], r["account"]) for r in rows(cli.cwd / "run" / "revoked.csv")]
    assert revoked == [("2", "10"), ("2", "20")]
    assert not sb.user_exists(101)
    return cli.cwd / "run"


def test_restore_of_a_star_row_gives_back_every_pair_with_its_own_role(cli, sandbox):
    """--plan lists both pairs of the one row; the restore invites ann back to 10 as Users
    and to 20 as Engineers (one new user, then added), and the state equals the one before."""
    sb = sandbox(world(users=ANN_TWO_ROLES))
    before = state(sb)
    report = revoke_everywhere(cli, sb)

    planned = cli("restore", str(report), "--base-url", sb.url, "--plan", "--report-dir", "p")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[:2] == [
        "row 2: ann@t.example account 10: would_restore: invite back to account 10 as Users; "
        "the run deleted this user (their last account): the invite creates a new user, "
        "with a new ID, who must accept it by e-mail",
        "row 2: ann@t.example account 20: would_restore: invite back to account 20 as "
        "Engineers; the run deleted this user (their last account): the invite creates a "
        "new user, with a new ID, who must accept it by e-mail",
    ]
    assert [(r["row"], r["account"], r["role"]) for r in rows(cli.cwd / "p" / "results.csv")] == [
        ("2", "10", "Users"),
        ("2", "20", "Engineers"),
    ]

    done = cli(
        "restore", str(report), "--base-url", sb.url, "--report-dir", "r", "--metrics-file", "m"
    )
    assert done.returncode == 0, done.stderr
    back = rows(cli.cwd / "r" / "results.csv")
    assert [(r["row"], r["account"], r["outcome"], r["role"]) for r in back] == [
        ("2", "10", "restored", "Users"),
        ("2", "20", "restored", "Engineers"),
    ]
    # One person came back under one new ID, however many pairs brought her back.
    page = (cli.cwd / "r" / "summary.txt").read_text(encoding="utf-8")
    assert "1 user came back with a new ID" in page
    assert 'offboard_restore_new_users{job="run"} 1.0' in (cli.cwd / "m").read_text()
    assert members(state(sb)) == members(before)
    assert state(sb)["users"][-1]["memberships"] == {"10": "Users", "20": "Engineers"}
    again = cli("restore", str(report), "--base-url", sb.url)
    assert again.returncode == 2 and "already restored" in again.stderr


def test_restore_of_one_pair_of_a_star_row_leaves_the_other_for_later(cli, sandbox):
    """--account picks one pair of the row; the mark holds that pair only, so the next
    restore gives back the other one, and a resume of the first sends nothing again."""
    sb = sandbox(world(users=ANN_TWO_ROLES))
    report = revoke_everywhere(cli, sb)
    first = cli(
        "restore", str(report), "--base-url", sb.url, "--account", "20", "--report-dir", "a"
    )
    assert first.returncode == 0, first.stderr
    assert [(r["account"], r["outcome"]) for r in rows(cli.cwd / "a" / "results.csv")] == [
        ("20", "restored")
    ]
    posts = len([r for r in sb.requests() if r.method == "POST"])
    resumed = cli("restore", str(report), "--base-url", sb.url, "--account", "20", "--resume", "a")
    assert resumed.returncode == 0, resumed.stderr
    assert len([r for r in sb.requests() if r.method == "POST"]) == posts  # nothing twice
    rest = cli("restore", str(report), "--base-url", sb.url, "--report-dir", "b")
    assert rest.returncode == 0, rest.stderr
    assert [
        (r["account"], r["outcome"], r["role"]) for r in rows(cli.cwd / "b" / "results.csv")
    ] == [("10", "restored", "Users")]
    ann = [u for u in state(sb)["users"] if u["email"] == "ann@t.example" and u["exists"]]
    assert [u["memberships"] for u in ann] == [{"10": "Users", "20": "Engineers"}]


def test_the_prompt_counts_a_deleted_person_once_however_many_pairs_bring_them_back():
    """The restore's question lists each pair of a `*` row, and says one user was deleted."""
    from offboard.restore.output import question
    from offboard.restore.plan import Revoked, Step

    def pair(account: int, role: int) -> Step:
        ann = Revoked(2, account, 101, "ann@t.example", "Ann", "en", role, True, ())
        return Step(ann, None, "invite", new_user=True)

    steps = [pair(10, 2), pair(20, 5)]
    text = question(steps, steps)
    assert "row 2: ann@t.example -> account 10 as Users (a NEW user" in text
    assert "row 2: ann@t.example -> account 20 as Engineers (a NEW user" in text
    assert "1 user(s) were deleted by the run" in text
