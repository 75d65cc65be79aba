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
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from offboard.core.job import Job, Seams
from offboard.job.run import run_one

from .conftest import KEY, WORLD, world
from .test_run_e2e import deletes, results

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


def test_everywhere_expands_pair_rows_and_is_in_the_pasted_hint_and_run_json(cli, sandbox):
    """`plan --everywhere` expands a row naming one pair to every account of its person,
    and its "To run exactly this plan" hint carries --everywhere and runs as printed; the
    run records the option in run.json, which --resume reuses."""
    sb = sandbox()
    cli.write("b.csv", "account,user\n10,ann@t.example\n")
    planned = cli("plan", "b.csv", "--base-url", sb.url, "--everywhere", "--report-dir", "p")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((cli.cwd / "p" / "plan.json").read_text())
    assert plan["everywhere"] is True
    assert [(r["account"], r["outcome"]) for r in plan["rows"]] == [
        (10, "would_revoke"),
        (20, "would_revoke"),
    ]
    hint = next(x for x in planned.stdout.splitlines() if x.startswith("To run exactly this plan"))
    command = hint.split(": ", 1)[1]
    assert command == f"offboard run p/plan.json --base-url {sb.url} --everywhere"
    ran = cli(*shlex.split(command)[1:], "--report-dir", "r")
    assert ran.returncode == 0, ran.stderr
    assert [(r["account"], r["outcome"]) for r in results(cli.cwd / "r")] == [
        ("10", "revoked"),
        ("20", "revoked"),
    ]
    meta = json.loads((cli.cwd / "r" / ".offboard" / "run.json").read_text())
    assert meta["options"]["everywhere"] is True


def test_a_plan_keeps_what_everywhere_meant_when_it_was_made(cli, sandbox):
    """A plan made with --everywhere runs without the option too (plan.json records it);
    one made without it is refused when run with it (exit 2, nothing sent)."""
    cli.write("b.csv", "account,user\n10,ann@t.example\n")
    sb = sandbox()
    made = cli("plan", "b.csv", "--base-url", sb.url, "--everywhere", "--report-dir", "p")
    assert made.returncode == 0, made.stderr
    ran = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r")
    assert ran.returncode == 0, ran.stderr
    assert [r["account"] for r in results(cli.cwd / "r")] == ["10", "20"]
    other = sandbox()
    plain = cli("plan", "b.csv", "--base-url", other.url, "--report-dir", "q")
    assert plain.returncode == 0, plain.stderr
    wider = cli("run", "q/plan.json", "--base-url", other.url, "--everywhere")
    assert wider.returncode == 2
    assert "q/plan.json: row 2: only SOURCE names the person everywhere (*)" in wider.stderr
    assert deletes(other) == []


def test_the_job_key_everywhere_expands_pair_rows(cli, sandbox):
    """A job file with `everywhere: true` treats its pair rows as `*`: ann's row revokes
    both her accounts, with `everywhere` in each record."""
    sb = sandbox()
    cli.write("job.yaml", "everywhere: true\nusers:\n  - {account: 20, user: 101}\n")
    done = cli("run", "job.yaml", "--base-url", sb.url, "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    assert [(r["account"], r["account_name"], r["outcome"]) for r in results(cli.cwd / "r")] == [
        ("10", "Ten", "revoked"),
        ("20", "Twenty", "revoked"),
    ]
    assert [r.get("everywhere") for r in journal(cli.cwd / "r")] == [True, True]
    assert not sb.user_exists(101)


@pytest.mark.parametrize(
    ("user", "message"),
    [("nobody@t.example", "no user has this email"), ("999", "no user has this ID")],
)
def test_a_star_row_for_an_unknown_user_is_one_missing_record(cli, sandbox, user, message):
    """`*` with an email or ID the user list does not know: one `missing` record saying so,
    nothing sent, exit 0."""
    sb = sandbox()
    cli.write("b.csv", f"account,user\n*,{user}\n")
    done = cli("run", "b.csv", "--base-url", sb.url, "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    rows = results(cli.cwd / "r")
    assert [(r["row"], r["account"], r["outcome"], r["message"]) for r in rows] == [
        ("2", "*", "missing", message)
    ]
    assert deletes(sb) == []


UNREAD = "reading the user list: HTTP 500: Internal server error (after 1 attempts)"


class UsersRefused(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox, except that the user list answers 500 every time."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/iam/users":
            return httpx.Response(500, json={"message": "Internal server error"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_star_row_when_the_user_list_cannot_be_read_is_failed(sandbox, tmp_path):
    """The user list cannot be read (500 every time): a `*` row by ID and one by email are
    each one `failed` record saying why, a pair row is still sent, exit 1."""
    sb = sandbox()
    source = tmp_path / "b.csv"
    source.write_text("account,user\n*,101\n*,ann@t.example\n10,102\n")
    job = Job(
        str(source),
        numbers={"max_attempts": 1},
        base_url=sb.url,
        report_dir=str(tmp_path / "r"),
        verbosity=-1,
        run_id="0123456789ab",
    )
    done = run_one(job, Seams(environ={"GCORE_API_KEY": KEY}, transport=UsersRefused()))
    assert done.exit_code == 1
    rows = results(tmp_path / "r")
    assert [(r["account"], r["outcome"], r["message"]) for r in rows[:2]] == [
        ("*", "failed", f"could not find the user's accounts: {UNREAD}"),
        ("*", "failed", f"could not resolve email: {UNREAD}"),
    ]
    # Sent all the same; its read-back, from the same list, says it could not be read.
    assert (rows[2]["account"], rows[2]["outcome"]) == ("10", "revoked")
    assert [r.path for r in deletes(sb)] == ["/iam/clients/10/client-users/102"]
