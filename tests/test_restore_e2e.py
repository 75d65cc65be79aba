"""`offboard restore` end to end: the real CLI against the sandbox (issue 13, part 2).

The round trip is the proof: run, restore, and the sandbox's state equals the state before
the run except for the API tokens the run deleted and the new IDs of users it deleted.
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import httpx

from offboard.sandbox import Sandbox

from .conftest import Cli, world

LEAVERS = "account,user,ticket\n10,101,T1\n10,102,T2\n10,103,T3\n"


def state(sb: Any) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(sb.url + "/_sandbox/state").json()
    return data


def members(snapshot: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{email: memberships} of the users who exist (IDs left out: re-created users get new
    ones)."""
    return {
        u["email"].lower(): u["memberships"]
        for u in snapshot["users"]
        if u["exists"] and u["memberships"]
    }


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def revoke_three(cli: Cli, sb: Sandbox) -> Path:
    """ann keeps account 20; Bob loses his last account (Gcore deletes him); cy's token is
    deleted first."""
    cli.write("leavers.csv", LEAVERS)
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "run")
    assert done.returncode == 0, done.stderr
    return cli.cwd / "run"


def test_run_then_restore_gives_back_every_access_with_its_role(cli, sandbox):
    """plan for the restore, then the restore: the state is the state before the run, but
    for the deleted token and Bob's new ID; the report says which is which."""
    sb = sandbox()
    before = state(sb)
    report = revoke_three(cli, sb)
    assert not sb.has_access(10, 101) and not sb.has_access(10, 103)

    planned = cli(
        "restore", str(report), "--base-url", sb.url, "--plan", "--report-dir", "restore-plan"
    )
    assert planned.returncode == 0, planned.stderr
    plan_rows = rows(cli.cwd / "restore-plan" / "results.csv")
    assert [(r["row"], r["outcome"]) for r in plan_rows] == [
        ("2", "would_restore"),
        ("3", "would_restore"),
        ("4", "would_restore"),
    ]
    assert "creates a new user" in plan_rows[1]["message"]  # Bob was deleted
    assert not [r for r in sb.requests() if r.method == "POST"]  # the plan sent nothing

    done = cli("restore", str(report), "--base-url", sb.url, "--report-dir", "restore")
    assert done.returncode == 0, done.stderr
    out = cli.cwd / "restore"
    restored = rows(out / "results.csv")
    assert [(r["row"], r["outcome"], r["role"]) for r in restored] == [
        ("2", "restored", "Users"),
        ("3", "restored", "Users"),
        ("4", "restored", "Engineers"),
    ]
    assert restored[1]["new_user_id"] and restored[1]["new_user_id"] != "102"
    assert "a new user" in restored[1]["message"]
    gone = rows(out / "tokens_gone.csv")
    assert [(g["token_id"], g["token_name"]) for g in gone] == [("900", "ci")]
    # What the admin sees: each row's result, Bob's new ID and the token that is gone.
    said = done.stdout.splitlines()
    assert said[0].startswith("row 2: ann@t.example account 10: restored: invited back")
    assert said[1].startswith("row 3: Bob@T.example account 10: restored: ")
    assert f"a new user (ID {restored[1]['new_user_id']}, was 102)" in said[1]
    assert "1 API token the run deleted cannot come back (see tokens_gone.csv)" in done.stdout
    page = (out / "summary.txt").read_text(encoding="utf-8")
    assert page.startswith(f"Restore of {report} (3 rows), exit code 0\n")
    assert "Counts: 3 restored" in page and said[1] in page
    assert "2 users came back with a new ID: they must accept the invitation" in page  # Bob, cy
    assert "1 API token the run deleted cannot come back" in page

    after = state(sb)
    assert members(after) == members(before)
    assert [t["id"] for t in after["tokens"] if t["live"]] == []  # tokens cannot come back
    for path in out.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    again = cli("restore", str(report), "--base-url", sb.url)
    assert again.returncode == 2 and "already restored" in again.stderr


def test_a_member_again_is_left_alone_and_a_selection_restores_only_it(cli, sandbox):
    """--user picks one user's rows; a user who is back in the account already is
    `already_member`, and no invite is sent for them."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    done = cli(
        "restore",
        str(report),
        "--base-url",
        sb.url,
        "--user",
        "ann@t.example",
        "--report-dir",
        "r1",
    )
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in rows(cli.cwd / "r1" / "results.csv")] == ["restored"]
    assert sb.has_access(10, 101) and not sb.has_access(10, 103)
    posts = len([r for r in sb.requests() if r.method == "POST"])
    done = cli(
        "restore",
        str(report),
        "--base-url",
        sb.url,
        "--user",
        "101",
        "--report-dir",
        "r2",
        "--resume",
        str(cli.cwd / "r1"),
    )
    assert done.returncode == 0, done.stderr
    assert len([r for r in sb.requests() if r.method == "POST"]) == posts


def test_bad_report_directories_are_refused_with_one_line_and_exit_2(cli, sandbox, tmp_path):
    """Not an offboard report, a plan's report, another base URL, or a selection that
    matches nothing: one line on stderr, exit 2, no invite sent."""
    sb = sandbox()
    other = sandbox(world())
    report = revoke_three(cli, sb)
    cli.write("leavers2.csv", LEAVERS)
    plan = cli("plan", "leavers2.csv", "--base-url", sb.url, "--report-dir", "aplan")
    assert plan.returncode == 0, plan.stderr
    (tmp_path / "empty").mkdir()
    cases = [
        ([str(tmp_path / "empty"), "--base-url", sb.url], "not an offboard report directory"),
        ([str(cli.cwd / "aplan"), "--base-url", sb.url], "not of a run"),
        ([str(report), "--base-url", other.url], "a restore goes to the API the run used"),
        ([str(report), "--base-url", sb.url, "--row", "99"], "no revoked row matches"),
    ]
    unfinished = cli.cwd / "unfinished"
    shutil.copytree(report, unfinished)
    (unfinished / "summary.json").unlink()
    other_key = cli.cwd / "other-key"
    shutil.copytree(report, other_key)
    summary = json.loads((other_key / "summary.json").read_text("utf-8"))
    (other_key / "summary.json").write_text(json.dumps({**summary, "key_user": 999}), "utf-8")
    cases += [
        ([str(unfinished), "--base-url", sb.url], "that run did not finish"),
        ([str(other_key), "--base-url", sb.url], "made with another key's user (999)"),
    ]
    for args, message in cases:
        done = cli("restore", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, args
    assert not [r for r in sb.requests() if r.method == "POST"]
    assert not [r for r in other.requests() if r.method == "POST"]


def test_a_role_that_no_longer_exists_is_a_per_row_failure_never_a_guess(cli, sandbox):
    """run.json says what role the user had; if the API refuses it, that row is
    `not_restorable` with the reason, the others are restored, exit 1."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    meta_path = report / ".offboard" / "run.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["people"]["101"]["roles"]["10"] = [77]  # a role the account does not have
    meta_path.write_text(json.dumps(meta), "utf-8")
    done = cli("restore", str(report), "--base-url", sb.url, "--report-dir", "r")
    assert done.returncode == 1, done.stderr
    assert json.loads((cli.cwd / "r" / "summary.json").read_text("utf-8"))["exit_code"] == 1
    by_row = {r["row"]: r for r in rows(cli.cwd / "r" / "results.csv")}
    assert (
        by_row["2"]["outcome"] == "not_restorable" and "no longer exists" in by_row["2"]["message"]
    )
    assert by_row["3"]["outcome"] == by_row["4"]["outcome"] == "restored"
    assert not sb.has_access(10, 101)


def test_restoring_one_user_leaves_the_others_for_later(cli, sandbox):
    """A restore of one user marks only their rows: a later restore of the report gives
    back the rest, and a repeat of the first is refused as already restored."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    first = cli("restore", str(report), "--base-url", sb.url, "--row", "3", "--report-dir", "a")
    assert first.returncode == 0, first.stderr
    rest = cli("restore", str(report), "--base-url", sb.url, "--report-dir", "b", "-q")
    assert (rest.returncode, rest.stdout, rest.stderr) == (0, "", "")  # -q: silent success
    back = rows(cli.cwd / "b" / "results.csv")
    assert [r["row"] for r in back] == ["2", "4"]
    # cy lost his last account in the run, so he is back under a new ID
    assert sb.has_access(10, 101) and sb.has_access(10, int(back[1]["new_user_id"]))
    again = cli("restore", str(report), "--base-url", sb.url, "--row", "3")
    assert again.returncode == 2 and "already restored" in again.stderr


def test_a_terminal_asks_before_any_invite_and_no_sends_nothing(cli, sandbox):
    """On a TTY the prompt lists each invite, says who gets a new ID and which tokens are
    gone; 'n' sends nothing (exit 2, no report left), 'y' restores."""
    from .test_plan_and_guards_e2e import _run_on_a_terminal

    sb = sandbox()
    report = revoke_three(cli, sb)
    args = ["restore", str(report), "--base-url", sb.url, "--report-dir", "r"]
    code, screen = _run_on_a_terminal(cli, args, "n")
    assert code == 2 and "not confirmed" in screen, screen
    assert "Bob@T.example -> account 10 as Users (a NEW user" in screen
    assert "cannot come back" in screen and not (cli.cwd / "r").exists()
    assert not [r for r in sb.requests() if r.method == "POST"]
    code, screen = _run_on_a_terminal(cli, args, "y")
    assert code == 0, screen
    assert [r["outcome"] for r in rows(cli.cwd / "r" / "results.csv")] == ["restored"] * 3


def test_a_key_the_api_rejects_ends_the_restore_with_exit_3(cli, sandbox):
    """A 401 before any invite: one line, exit 3 (as a run), nothing sent."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    done = cli("restore", str(report), "--base-url", sb.url, key="4242_nopenope")
    assert done.returncode == 3 and "401" in done.stderr, done.stderr
    assert not [r for r in sb.requests() if r.method == "POST"]


def test_sigterm_mid_restore_reports_every_row_and_resume_finishes(cli, sandbox):
    """SIGTERM after the first invite: no new invite, exit 3, every row in the report (the
    unsent ones not_attempted), a resume line; pasted, it restores the rest."""
    import shlex
    import signal

    from .test_cron_e2e import start, wait_for

    sb = sandbox(world(faults={"latency": 0.3}))
    report = revoke_three(cli, sb)
    process = start(
        cli,
        "restore",
        str(report),
        "--base-url",
        sb.url,
        "--concurrency",
        "1",
        "--rate",
        "2",
        "--report-dir",
        "r",
    )
    journal = cli.cwd / "r" / ".offboard" / "journal.jsonl"
    wait_for(lambda: journal.exists() and journal.read_text().count("\n") >= 1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 3, err
    outcomes = [r["outcome"] for r in rows(cli.cwd / "r" / "results.csv")]
    assert len(outcomes) == 3 and "not_attempted" in outcomes and "restored" in outcomes
    line = next(x for x in err.splitlines() if "--resume" in x)
    resumed = cli(*shlex.split(line[line.index("offboard restore") :])[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert [r["outcome"] for r in rows(cli.cwd / "r" / "results.csv")] == ["restored"] * 3
