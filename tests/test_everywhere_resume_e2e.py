"""Kill -9 in the middle of a row that names a person everywhere, then --resume (issue 21):
the real CLI over loopback against the sandbox.

The person reaches five accounts (one the key may not manage); the kill comes with two of
their pairs journaled and the third's revoke applied but its answer held back (a known
point, no race). The resume sends no pair twice except that one (the contract's `missing`,
"an earlier attempt may have revoked"), and its lists, people.csv and summary.json equal
those of one uninterrupted run, in which the same pair's answer is lost instead.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from offboard.sandbox import Sandbox

from .conftest import world
from .test_cron_e2e import journal_lines, start, wait_for
from .test_run_e2e import deletes, results
from .test_seams_e2e import IGNORED

ADMIN = {
    "id": 1,
    "email": "admin@t.example",
    "roles": {10: "Administrators", 20: "Administrators", 40: "Administrators"}
    | {50: "Administrators"},
}
PERSON = 300  # x@t.example: everywhere but 30 is the key's to revoke
USERS = [
    ADMIN,
    {
        "id": PERSON,
        "email": "x@t.example",
        "name": "Xavier",
        "roles": {10: "Users", 20: "Users", 30: "Users", 40: "Users", 50: "Users"},
    },
    {"id": 301, "email": "y@t.example", "roles": {10: "Users"}},
    {"id": 302, "email": "z@t.example", "roles": {20: "Users", 40: "Engineers"}},
]
ACCOUNTS = [
    {"id": a, "name": n}
    for a, n in ((10, "Ten"), (20, "Twenty"), (30, "Thirty"), (40, "Forty"), (50, "Fifty"))
]
# In the cut run this pair's revoke is applied and its answer held: kill -9 finds it in
# flight once the rows before it are journaled (y's pair, then x's 10 and 20; 30 is
# forbidden, so x's 30 comes before it too).
HELD = (40, PERSON)
BEFORE_THE_KILL = 4
BATCHES = {
    # a `*` row, by email and by ID
    "star": "account,user,ticket\n10,y@t.example,A\n*,x@t.example,B\n*,302,C\n",
    "all": "account,user,ticket\n10,301,A\nall,300,B\n*,z@t.example,C\n",
    # rows naming one pair each, made `*` by --everywhere (recorded for --resume)
    "flag": "account,user,ticket\n10,y@t.example,A\n50,x@t.example,B\n40,302,C\n",
}
ARGS = ["--rate", "200", "--concurrency", "1", "--timeout", "120"]


def pair_world(responses: list[Any]) -> dict[str, Any]:
    account, user = HELD
    scripted = [{"account": account, "user": user, "responses": responses}]
    return world(users=USERS, accounts=ACCOUNTS, faults={"latency": 0.02, "scripted": scripted})


def comparable(directory: Path) -> dict[str, Any]:
    """Every list and summary.json without times, request IDs, the read-back's cost, the
    run's options (port, resume) and how the held pair came to be unsure."""
    tables = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            tables[path.name] = [
                {
                    k: v
                    for k, v in row.items()
                    if k not in ("request_id", "settled_at")
                    and not (
                        (row.get("account"), row.get("user_id")) == tuple(map(str, HELD))
                        and k in ("message", "attempts")
                    )
                }
                for row in csv.DictReader(handle)
            ]
    summary = json.loads((directory / "summary.json").read_text())
    summary = {k: v for k, v in summary.items() if k not in IGNORED | {"options"}}
    return {"tables": tables, "summary": summary}


def deletes_per_pair(sb: Sandbox) -> Counter[tuple[str, str]]:
    """DELETE /iam/clients/{account}/client-users/{user}, counted per (account, user)."""
    pairs = (r.path.split("/") for r in deletes(sb))
    return Counter((parts[3], parts[5]) for parts in pairs)


@pytest.mark.parametrize("batch", sorted(BATCHES))
def test_a_kill_inside_an_expanded_row_resumes_to_the_uninterrupted_report(cli, sandbox, batch):
    """kill -9 with a `*` row's pairs half journaled and one in flight, then --resume: each
    pair is sent once (the one in flight once more, `missing` saying so), and results.csv,
    people.csv, every other list and summary.json equal an uninterrupted run's."""
    cli.write("b.csv", BATCHES[batch])
    flags = ["--everywhere"] if batch == "flag" else []
    whole = sandbox(pair_world(["drop"]))
    done = cli("run", "b.csv", "--base-url", whole.url, *ARGS, *flags, "--report-dir", "whole")
    assert done.returncode == 1, done.stderr
    cut = sandbox(pair_world([{"delay": 100}]))
    directory = cli.cwd / "cut"
    process = start(
        cli, "run", "b.csv", "--base-url", cut.url, *ARGS, *flags, "--report-dir", "cut"
    )
    wait_for(lambda: len(journal_lines(directory)) >= BEFORE_THE_KILL and not cut.has_access(*HELD))
    process.kill()  # SIGKILL: nothing written after this point
    process.communicate(timeout=10)
    assert [(r["row"], r["account"]) for r in journal_lines(directory)] == [
        (2, 10),
        (3, 10),
        (3, 20),
        (3, 30),
    ]
    resumed = cli("run", "b.csv", "--base-url", cut.url, "--resume", "cut")
    assert resumed.returncode == 1, resumed.stderr
    assert "1 person named everywhere still reaches an account: x@t.example (30 Thirty)" in (
        resumed.stderr
    )
    held = [r for r in results(directory) if (r["account"], r["user_id"]) == ("40", "300")]
    assert [(r["row"], r["outcome"]) for r in held] == [("3", "missing")]
    assert "killed or interrupted with this request in flight" in held[0]["message"]
    # The held request never finishes in the sandbox's log; its resend found x gone (404).
    # Every other pair was sent once, the pairs an uninterrupted run sends.
    sent = deletes_per_pair(cut)
    assert set(sent.values()) == {1} and sent.keys() == deletes_per_pair(whole).keys()
    assert [r.status for r in deletes(cut) if r.path == "/iam/clients/40/client-users/300"] == [404]
    got, wanted = comparable(directory), comparable(cli.cwd / "whole")
    assert got["tables"].keys() == wanted["tables"].keys()
    for name, rows in wanted["tables"].items():
        assert got["tables"][name] == rows, name
    assert got["summary"] == wanted["summary"]
    people = {r["email"]: r["still_reaches"] for r in got["tables"]["people.csv"]}
    assert people == {"y@t.example": "", "x@t.example": "30 Thirty", "z@t.example": ""}
    summary = json.loads((directory / "summary.json").read_text())
    assert (summary["people"], summary["people_gone"], summary["people_remaining"]) == (3, 2, 1)
    assert summary["resumed"] == BEFORE_THE_KILL
