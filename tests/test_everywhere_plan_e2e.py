"""Rows that name a person everywhere (`*`, --everywhere) through plan and run (issue 21):
the real CLI over loopback against the sandbox.

plan.json records each expanded pair as coming from a `*` row, so `run PLAN.json` reports
what a run of the SOURCE would; a run of a plan whose person gained or lost an account
since is refused before anything is sent. --everywhere is recorded for --resume and put in
the pasted hint; an unknown person, or a user list that cannot be read, ends the row with
one record saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import WORLD, world
from .test_run_e2e import deletes

# ann (101) reaches 10 and 20, which the key manages, and 30, which it does not.
ANN_EVERYWHERE = [
    {**u, "roles": {10: "Users", 20: "Users", 30: "Users"}} if u["id"] == 101 else u
    for u in WORLD["users"]
]
STAR_BATCH = "account,user,ticket\n*,ann@t.example,T1\n10,102,T2\n"


def journal(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def same_parts(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two runs of the same rows: times, request IDs,
    and for a pair the plan already decided (forbidden), how the run learned it."""
    drop = {"request_id", "settled_at", "verified_at", "verify_request_id", "login"}
    if record["outcome"] == "forbidden":
        drop |= {"message", "http_status", "attempts"}
    return {k: v for k, v in record.items() if k not in drop}


def last_line(stderr: str, directory: str) -> str:
    return stderr.strip().splitlines()[-1].replace(f" {directory}/", " DIR/")


def test_a_plan_of_a_star_row_runs_as_a_run_of_the_source(cli, sandbox):
    """plan.json marks a `*` row's pairs `"everywhere": true` with the account's name;
    `run PLAN.json` then gives the records, people.csv and the stranded-person line a run of
    the SOURCE gives (ann still reaches 30 Thirty, which the key may not manage: exit 1)."""
    cli.write("b.csv", STAR_BATCH)
    planning = sandbox(world(users=ANN_EVERYWHERE))
    planned = cli("plan", "b.csv", "--base-url", planning.url, "--report-dir", "p")
    assert planned.returncode == 1, planned.stderr
    rows = json.loads((cli.cwd / "p" / "plan.json").read_text())["rows"]
    assert [(r["row"], r["account"], r.get("everywhere"), r["account_name"]) for r in rows] == [
        (2, 10, True, "Ten"),
        (2, 20, True, "Twenty"),
        (2, 30, True, "Thirty"),
        (3, 10, None, "Ten"),
    ]
    by_plan = cli("run", "p/plan.json", "--base-url", planning.url, "--report-dir", "r")
    direct = sandbox(world(users=ANN_EVERYWHERE))
    by_source = cli("run", "b.csv", "--base-url", direct.url, "--report-dir", "s")
    assert (by_plan.returncode, by_source.returncode) == (1, 1), by_plan.stderr
    mine, theirs = journal(cli.cwd / "r"), journal(cli.cwd / "s")
    assert [same_parts(r) for r in mine] == [same_parts(r) for r in theirs]
    assert [r.get("everywhere") for r in mine] == [True, True, True, None]
    people = [(cli.cwd / d / "people.csv").read_text() for d in ("r", "s")]
    assert people[0] == people[1] and "30 Thirty" in people[0]
    assert last_line(by_plan.stderr, "r").replace("p/plan.json", "b.csv") == last_line(
        by_source.stderr, "s"
    )
    assert "1 person named everywhere still reaches an account: ann@t.example (30 Thirty)" in (
        by_plan.stderr
    )
    assert [r.path for r in deletes(planning)] == [
        "/iam/clients/10/client-users/101",
        "/iam/clients/20/client-users/101",
        "/iam/clients/10/client-users/102",
    ]


def invite(url: str, account: int, email: str) -> None:
    """Someone adds the user to an account, as an admin would, through the API."""
    answer = httpx.post(
        url + "/iam/clients/invite_user",
        headers={"Authorization": f"APIKey {WORLD['api_key']}"},
        json={"email": email, "user_role": {"id": 2}, "client_id": account},
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("change", "who", "then", "now"),
    [("gained", "Bob@T.example", "10", "10, 20"), ("lost", "ann@t.example", "10, 20", "10")],
)
def test_a_plan_whose_person_changed_accounts_is_refused(cli, sandbox, change, who, then, now):
    """A `*` row's user who gained (or lost) an account after the plan: `run PLAN.json`
    exits 2 naming the row, the user and the accounts then and now; nothing is sent and no
    report directory is left."""
    sb = sandbox()
    cli.write("b.csv", f"account,user\n10,105\n*,{who}\n")
    planned = cli("plan", "b.csv", "--base-url", sb.url, "--report-dir", "p")
    assert planned.returncode == 0, planned.stderr
    if change == "gained":
        invite(sb.url, 20, who)
    else:
        assert (
            sb.state.revoke(20, 101).name == "REVOKED"
        )  # someone removes ann from account 20 by hand
    run = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r")
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (
        f"offboard: p/plan.json: row 3: {who}'s accounts changed since the plan "
        f"(planned {then}; now {now}): the plan does not match {cli.cwd / 'b.csv'}; "
        "nothing was sent. Run `offboard plan` again"
    )
    assert deletes(sb) == [] and not (cli.cwd / "r").exists()
