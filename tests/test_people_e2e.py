"""Is this person gone? people.csv, the summary counts and the verdict (issue 21), through the
real CLI over loopback against the sandbox.

A person named everywhere (`*`, a CSV without an account column, a YAML list without
account keys) who still reaches an account makes the run exit 1, named on stderr; a person
named by explicit pairs who still reaches other accounts is reported, and the exit code is
the rows'. Account names appear in every list, neutralised like any cell.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx

from offboard.core.job import Job, Seams
from offboard.job.run import run_one

from .conftest import KEY, WORLD, world

# ann (101) reaches 10 and 20 (the key manages both) and 30 (it does not); bob (102) only 10;
# eve (107) is in 20 only, and is named only by a pair in 10 (a wrong account).
USERS = [
    *(
        {**u, "roles": {10: "Users", 20: "Users", 30: "Users"}} if u["id"] == 101 else u
        for u in WORLD["users"]
    ),
    {"id": 107, "email": "eve@t.example", "roles": {20: "Users"}},
]


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def summary(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((path / "summary.json").read_text())
    return loaded


def test_an_email_list_names_everyone_everywhere_and_the_one_left_fails_the_run(cli, sandbox):
    """A CSV with only an email column: each person is revoked from every account the key
    can reach; ann still reaches 30 Thirty (forbidden), so the run exits 1 and stderr names
    her and the account; people.csv answers per person with the read-back's proof."""
    sb = sandbox(world(users=USERS))
    cli.write("leavers.csv", "email,ticket\nann@t.example,T1\nBob@T.example,T2\nzed@t.example,T3\n")
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--report-dir", "out", "--yes")
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "1 person named everywhere still reaches an account: ann@t.example (30 Thirty)" in last
    assert "out/people.csv" in last
    out = cli.cwd / "out"
    results = [
        (r["row"], r["account"], r["outcome"], r["account_name"]) for r in rows(out / "results.csv")
    ]
    assert results == [
        ("2", "10", "revoked", "Ten"),
        ("2", "20", "revoked", "Twenty"),
        ("2", "30", "forbidden", "Thirty"),
        ("3", "10", "revoked", "Ten"),
        ("4", "*", "missing", ""),
    ]
    assert rows(out / "people.csv") == [
        {
            "email": "ann@t.example",
            "name": "",
            "user_id": "101",
            "accounts_before": "10 Ten; 20 Twenty; 30 Thirty",
            "revoked": "10 Ten; 20 Twenty",
            "still_reaches": "30 Thirty",
            "user_deleted": "false",
            "verified": "true",
        },
        {
            "email": "Bob@T.example",
            "name": "",
            "user_id": "102",
            "accounts_before": "10 Ten",
            "revoked": "10 Ten",
            "still_reaches": "",
            "user_deleted": "true",
            "verified": "true",
        },
    ]
    assert sb.has_access(30, 101) and not sb.user_exists(102)
    got = summary(out)
    assert (got["people"], got["people_gone"], got["people_remaining"]) == (2, 1, 1)
    assert got["verify_method"] == "listing"  # the proof of what each person still reaches


def test_the_plan_says_why_every_row_is_everywhere_first_and_shows_each_expansion(cli, sandbox):
    """`plan` of an email list: its first line says the file has no account column, and each
    row's expansion is listed with the account the key may not manage marked."""
    sb = sandbox(world(users=USERS))
    cli.write("leavers.csv", "email\nann@t.example\n")
    done = cli("plan", "leavers.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "leavers.csv has no account column: every row means every account its user can reach (*)"
    )
    assert (
        "  row 2: ann@t.example -> 3 accounts: 10 Ten, 20 Twenty, 30 Thirty "
        "(this key may not manage it)"
    ) in lines
    assert "1 person named everywhere would still reach an account" in done.stderr
    assert (cli.cwd / "p" / "summary.txt").read_text().startswith("leavers.csv has no account")
    assert sb.has_access(10, 101)  # a plan changes nothing


def test_a_person_named_by_pairs_who_keeps_other_accounts_is_reported_not_failed(cli, sandbox):
    """ann named only in 10: she still reaches 20 and 30, which the batch did not name; the
    run exits 0 (the batch scoped her on purpose) and people.csv says what she keeps."""
    sb = sandbox(world(users=USERS))
    cli.write("pairs.csv", "account,user\n10,ann@t.example\n")
    done = cli("run", "pairs.csv", "--base-url", sb.url, "--report-dir", "out", "--yes")
    assert done.returncode == 0, done.stderr
    (ann,) = rows(cli.cwd / "out" / "people.csv")
    assert (ann["revoked"], ann["still_reaches"]) == ("10 Ten", "20 Twenty; 30 Thirty")
    got = summary(cli.cwd / "out")
    assert (got["people"], got["people_gone"], got["people_remaining"]) == (1, 0, 1)
    assert "not in this batch" in (cli.cwd / "out" / "summary.txt").read_text()


def test_a_yaml_list_of_users_means_everywhere_and_an_empty_account_stays_invalid(cli, sandbox):
    """A YAML list of {user: email} with no account key is `*` on every row; in a CSV that has
    an account column, an empty cell is still `invalid` (a blank is likely a mistake)."""
    sb = sandbox(world(users=USERS))
    cli.write("l.yaml", "- {user: Bob@T.example}\n- {user: eve@t.example}\n")
    done = cli("run", "l.yaml", "--base-url", sb.url, "--report-dir", "y", "--yes")
    assert done.returncode == 0, done.stderr
    pairs = [(r["account"], r["user"], r["outcome"]) for r in rows(cli.cwd / "y" / "results.csv")]
    assert pairs == [("10", "Bob@T.example", "revoked"), ("20", "eve@t.example", "revoked")]
    cli.write("blank.csv", "account,user\n,ann@t.example\n")
    done = cli("run", "blank.csv", "--base-url", sb.url, "--report-dir", "b", "--yes")
    assert done.returncode == 1
    (row,) = rows(cli.cwd / "b" / "results.csv")
    assert (row["outcome"], row["message"]) == ("invalid", "account: is empty")
    assert sb.has_access(10, 101)


def test_hostile_account_names_are_neutralised_in_the_lists_and_escaped_on_the_page(cli, sandbox):
    """An account named like a formula or a script: the CSV cell starts with a quote, the
    page shows it as text, results.jsonl keeps it exactly."""
    hostile = world(
        users=USERS,
        accounts=[
            {"id": 10, "name": '=HYPERLINK("http://x","y")'},
            {"id": 20, "name": "<script>alert(1)</script>"},
            {"id": 30, "name": "@SUM(1)"},
        ],
    )
    sb = sandbox(hostile)
    cli.write("leavers.csv", "email\nann@t.example\n")
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--report-dir", "out", "--yes")
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "out"
    names = [r["account_name"] for r in rows(out / "results.csv")]
    assert names == ['\'=HYPERLINK("http://x","y")', "<script>alert(1)</script>", "'@SUM(1)"]
    assert [r["account_name"] for r in rows(out / "forbidden.csv")] == ["'@SUM(1)"]
    exact = [
        json.loads(x)["account_name"] for x in (out / "results.jsonl").read_text().splitlines()
    ]
    assert exact[0] == '=HYPERLINK("http://x","y")'
    page = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    (ann,) = rows(out / "people.csv")
    assert ann["still_reaches"] == "30 @SUM(1)"


class GainsAnAccount(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox, except that once a revoke has been sent, the user list
    shows ann (101) in account 40: she was given it after the run's first listing."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.revoking = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.revoking = self.revoking or request.method == "DELETE"
        answer = await self.inner.handle_async_request(request)
        if not (self.revoking and request.url.path == "/iam/users"):
            return answer
        body = json.loads(await answer.aread())
        users = body["results"] if isinstance(body, dict) else body
        # Invited back to account 40 after her revokes deleted her: a new membership.
        ann = {"id": 101, "email": "ann@t.example", "name": "", "deleted": False,
               "client_and_roles": [{"client_id": 40, "client_company_name": "Forty",
                                     "user_id": 101, "user_roles": ["2"]}]}  # fmt: skip
        users[:] = [u for u in users if u["id"] != 101] + [ann]
        return httpx.Response(answer.status_code, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_verdict_alone_fails_a_run_whose_every_row_settled(sandbox, tmp_path):
    """Every pair of ann's `*` row is revoked (no row needs a person), but the read-back finds
    her in an account she gained since the first listing: exit 1, named; the same person
    named by a pair is only reported (exit 0)."""
    sb = sandbox(world(users=[u for u in WORLD["users"] if u["id"] != 101] + [
        {"id": 101, "email": "ann@t.example", "roles": {10: "Users", 20: "Users"}}]))  # fmt: skip
    problems = {}
    for source, expected in (("*,ann@t.example", 1), ("10,Bob@T.example", 0)):
        path = tmp_path / f"{expected}.csv"
        path.write_text(f"account,user\n{source}\n")
        report = tmp_path / f"r{expected}"
        job = Job(str(path), base_url=sb.url, report_dir=str(report), yes=True, verbosity=-1)
        done = run_one(job, Seams(environ={"GCORE_API_KEY": KEY}, transport=GainsAnAccount()))
        outcomes = {r["outcome"] for r in rows(report / "results.csv")}
        assert outcomes == {"revoked"} and done.exit_code == expected, done.problem
        problems[expected] = done.problem
    (ann,) = rows(tmp_path / "r1" / "people.csv")
    assert (ann["revoked"], ann["still_reaches"]) == ("10 Ten; 20 Twenty", "40 Forty")
    assert (
        "1 person named everywhere still reaches an account: ann@t.example (40 Forty)"
        in problems[1]
    )
    assert problems[0] == ""


def test_a_plan_marks_one_pair_of_a_star_row_as_the_one_that_deletes(cli, sandbox):
    """ann (10 and 20, both managed) named everywhere: the plan says the batch deletes her
    once, on the pair last in input order, not on every pair of her row; the run agrees."""
    sb = sandbox(world(users=[u for u in USERS if u["id"] != 101] + [
        {"id": 101, "email": "ann@t.example", "roles": {10: "Users", 20: "Users"}}]))  # fmt: skip
    cli.write("leavers.csv", "email\nann@t.example\n")
    planned = cli("plan", "leavers.csv", "--base-url", sb.url, "--report-dir", "p")
    assert planned.returncode == 0, planned.stderr
    marks = [(r["account"], r["user_deleted"]) for r in rows(cli.cwd / "p" / "results.csv")]
    assert marks == [("10", "false"), ("20", "true")]
    assert summary(cli.cwd / "p")["users_would_be_deleted"] == 1
    plan = json.loads((cli.cwd / "p" / "plan.json").read_text())
    assert [r["deletes_user"] for r in plan["rows"]] == [False, True]
    done = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r", "--yes")
    assert done.returncode == 0, done.stderr
    assert summary(cli.cwd / "r")["users_deleted"] == 1 and not sb.user_exists(101)


def test_a_revoke_whose_answer_was_lost_reads_as_this_batchs_revoke(cli, sandbox):
    """A revoke applied but its answer lost (then 404 on the retry: `missing`, maybe applied)
    reads in people.csv as the batch's own revoke, as an uninterrupted answer would: the
    account is under `revoked`, as the deletion count already reads it; a plain 404 is not."""
    drop = {"scripted": [{"account": 10, "user": 102, "responses": ["drop"]}]}
    sb = sandbox(world(users=USERS, faults=drop))
    cli.write("l.csv", "account,user\n10,102\n20,107\n10,107\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    outcomes = [
        (r["account"], r["user"], r["outcome"]) for r in rows(cli.cwd / "o" / "results.csv")
    ]
    assert outcomes == [
        ("10", "102", "missing"),
        ("20", "107", "revoked"),
        ("10", "107", "missing"),
    ]
    people = {p["user_id"]: p for p in rows(cli.cwd / "o" / "people.csv")}
    assert people["102"]["revoked"].startswith("10 "), people["102"]
    assert people["102"]["still_reaches"] == "" and people["102"]["user_deleted"] == "true"
    assert people["107"]["revoked"].startswith("20 ") and "10 " not in people["107"]["revoked"]
