"""What a resume tells after a kill (issue 19): the real CLI over loopback against the sandbox.

A row given by email whose user the killed run itself deleted is resolved as the killed run
resolved it (run.json records the batch's users), never against the listing that run
changed; a `token_blocked` row is sent again once its token is gone, by `--resume` and by
the jobs folder's next run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offboard.sandbox import Sandbox

from .conftest import Cli, world
from .test_cron_e2e import journal_lines, start, wait_for
from .test_run_e2e import deletes, results

ADMIN = {"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}
PEOPLE = 40
# Their revokes are applied at once and their answers held back: a kill -9 once every other
# row is journaled finds exactly these rows in flight (a known point, no race).
HELD = (210, 220, 230, 239)


def email_world() -> dict[str, Any]:
    users = [
        ADMIN,
        *(
            {"id": 200 + i, "email": f"e{i}@b2.example", "name": f"E {i}", "roles": {10: "Users"}}
            for i in range(PEOPLE)
        ),
    ]
    held = [{"account": 10, "user": u, "responses": [{"delay": 100}]} for u in HELD]
    return world(users=users, faults={"scripted": held})


def kill_with_held_rows_in_flight(cli: Cli, sb: Sandbox, directory: Path, *args: str) -> None:
    process = start(cli, *args)
    wait_for(
        lambda: (
            len(journal_lines(directory)) >= PEOPLE - len(HELD)
            and not any(sb.has_access(10, u) for u in HELD)
        )
    )
    process.kill()  # SIGKILL: no handler, nothing written after this point
    process.communicate(timeout=10)
    assert len(journal_lines(directory)) == PEOPLE - len(HELD)


def check_resumed(directory: Path) -> None:
    rows = results(directory)
    held = [r for r in rows if int(r["user_id"] or 0) in HELD]
    assert len(held) == len(HELD), [r for r in rows if r["outcome"] != "revoked"]
    for row in held:
        number = int(row["user_id"]) - 200
        assert (row["outcome"], row["name"], row["email"], row["user_deleted"]) == (
            "missing",
            f"E {number}",
            f"e{number}@b2.example",
            "true",
        )
        assert row["user"] == f"e{number}@b2.example" and row["attempts"] == "1"
        assert "an earlier attempt may have revoked the access" in row["message"]
        assert "killed or interrupted with this request in flight" in row["message"]
    assert {r["outcome"] for r in rows if r not in held} == {"revoked"}
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["users_deleted"] == PEOPLE and summary["revocations_planned"] == PEOPLE
    assert summary["counts"]["missing"] == len(HELD)


def test_a_resume_resolves_emails_as_the_killed_run_did(cli, sandbox):
    """Rows given by email, killed with four revokes applied but not journaled: --resume
    gives those rows their user (ID, name, email), `missing` saying the run was killed with
    the request in flight, and counts the four users as deleted (40 in all)."""
    sb = sandbox(email_world())
    cli.write("b.csv", "account,user\n" + "".join(f"10,e{i}@b2.example\n" for i in range(PEOPLE)))
    directory = cli.cwd / "cut"
    kill_with_held_rows_in_flight(
        cli,
        sb,
        directory,
        "run",
        "b.csv",
        "--base-url",
        sb.url,
        "--rate",
        "50",
        "--concurrency",
        "8",
        "--timeout",
        "120",
        "--report-dir",
        "cut",
    )
    resumed = cli("run", "b.csv", "--base-url", sb.url, "--resume", "cut")
    assert resumed.returncode == 0, resumed.stderr
    check_resumed(directory)
    # Each held row was sent once more (the held requests never finish in the log), got 404.
    again = [
        (r.path.rsplit("/", 1)[1], r.status)
        for r in deletes(sb)
        if int(r.path.rsplit("/", 1)[1]) in HELD
    ]
    assert sorted(again) == [(str(u), 404) for u in HELD]


def test_a_jobs_folder_resumes_a_killed_email_job_the_same_way(cli, sandbox):
    """The same kill in a jobs folder: its next run resumes the job by itself, with the
    same answer as --resume."""
    sb = sandbox(email_world())
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "hr.yaml").write_text(
        "report_dir: ../cut\nrate: 50\nconcurrency: 8\ntimeout: 120\nusers:\n"
        + "".join(f"  - {{account: 10, user: e{i}@b2.example}}\n" for i in range(PEOPLE))
    )
    directory = cli.cwd / "cut"
    kill_with_held_rows_in_flight(cli, sb, directory, "run", "jobs", "--base-url", sb.url)
    again = cli("run", "jobs", "--base-url", sb.url)
    assert again.returncode == 0, again.stderr
    check_resumed(directory)


@pytest.mark.parametrize("how", ["resume", "folder"])
def test_a_token_blocked_row_is_sent_again_once_its_token_is_gone(cli, sandbox, how):
    """A row left `token_blocked` is tried again by --resume (and by the folder's next run):
    once its user's token is deleted it ends `revoked`; the settled row is not sent again."""
    sb = sandbox()
    rows = [(10, 101), (10, 103)]  # 103 holds live token 900 in account 10
    if how == "resume":
        cli.write("l.csv", "account,user\n" + "".join(f"{a},{u}\n" for a, u in rows))
        command = ["run", "l.csv", "--base-url", sb.url, "--report-dir", "r"]
        directory = cli.cwd / "r"
    else:
        (cli.cwd / "jobs").mkdir()
        cli.write(
            "jobs/hr.yaml",
            "report_dir: ../r\nusers:\n"
            + "".join(f"  - {{account: {a}, user: {u}}}\n" for a, u in rows),
        )
        command = ["run", "jobs", "--base-url", sb.url]
        directory = cli.cwd / "r"
    first = cli(*command)
    assert first.returncode == 1, first.stderr
    assert [r["outcome"] for r in results(directory)] == ["revoked", "token_blocked"]
    assert sb.state.delete_token(10, 900).name == "DELETED"  # someone deletes the token
    sent = len(deletes(sb))
    again = cli(*(["run", "l.csv", "--resume", "r"] if how == "resume" else command))
    assert again.returncode == 0, again.stderr
    assert [r["outcome"] for r in results(directory)] == ["revoked", "revoked"]
    assert [r.path for r in deletes(sb)[sent:]] == ["/iam/clients/10/client-users/103"]
    assert not sb.has_access(10, 103)
