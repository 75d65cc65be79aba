"""Where two features meet (issue 10): the real CLI over loopback against the sandbox.

Each test drives a sequence of commands on one folder or report directory and checks that
every signal (exit code, stderr under -q, metrics, report files, counts, hints) is true.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any, TypedDict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from offboard.sandbox import Sandbox

from .conftest import WORLD, Cli, world
from .test_cron_e2e import USERS, journal_lines, many, start, wait_for
from .test_plan_and_guards_e2e import _run_on_a_terminal
from .test_run_e2e import deletes, results


def metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a textfile, parsed by Prometheus' own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under a folder (hidden ones too) with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_plan_on_a_folder_changes_nothing_then_the_run_revokes_everything(cli, sandbox):
    """`plan jobs/` leaves the folder byte for byte as it was (no state, no lock); the next
    `run jobs/` then revokes every row of every job."""
    sb = sandbox()
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text("users: [{account: 10, user: 101}]\n")
    (jobs / "b.yaml").write_text("users: [{account: 10, user: 102}, {account: 20, user: 101}]\n")
    before = listing(jobs)
    planned = cli("plan", "jobs", "--base-url", sb.url)
    assert planned.returncode == 0, planned.stderr
    assert listing(jobs) == before
    assert deletes(sb) == []
    done = cli("run", "jobs", "--base-url", sb.url)
    assert done.returncode == 0, done.stderr
    assert len(deletes(sb)) == 3
    assert not sb.has_access(10, 101) and not sb.has_access(20, 101)
    assert not sb.user_exists(102)


def test_a_csv_in_the_folder_is_a_job_and_other_files_are_named_on_every_run(cli, sandbox):
    """A CSV dropped into jobs/ is run; a file the inbox does not run is named on stderr on
    every run (-q included); a CSV that a job file reads as its input is not run twice;
    an empty folder says so."""
    sb = sandbox()
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    empty = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert empty.returncode == 0 and "no job files" in empty.stderr
    (jobs / "leavers.csv").write_text("account,user\n10,101\n")
    (jobs / "notes.txt").write_text("ask HR about row 3\n")
    (jobs / "hr.yaml").write_text("input: hr-input.csv\n")
    (jobs / "hr-input.csv").write_text("account,user\n10,102\n")
    for attempt in range(2):
        done = cli("run", "jobs", "--base-url", sb.url, "-q")
        assert done.returncode == 0, done.stderr
        assert "notes.txt" in done.stderr and "not run" in done.stderr, attempt
        assert "hr-input.csv" not in done.stderr.replace("hr.yaml", "")
    assert not sb.has_access(10, 101) and not sb.user_exists(102)
    sent = [r.path for r in deletes(sb)]
    assert sorted(sent) == ["/iam/clients/10/client-users/101", "/iam/clients/10/client-users/102"]


def test_a_job_with_rows_still_holding_access_stays_open_until_they_settle(cli, sandbox):
    """A job that ends with exit 1 is retried by the next folder run: only its open rows
    are sent again, forbidden rows are listed but not re-sent, and each run exits 1 while
    any row still holds access."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 105, "responses": [503, 503]}]})
    )
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "hr.yaml").write_text(
        "max_attempts: 2\nusers:\n  - {account: 10, user: 101}\n"
        "  - {account: 10, user: 105}\n  - {account: 30, user: 104}\n"
    )
    first = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert first.returncode == 1
    assert sb.has_access(10, 105)
    sent = len(sb.requests())
    second = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert second.returncode == 1, second.stderr
    assert "hr.yaml" in second.stderr and "forbidden" in second.stderr
    again = [r.path for r in sb.requests()[sent:] if r.method == "DELETE"]
    assert again == ["/iam/clients/10/client-users/105"]
    assert not sb.has_access(10, 105)
    state = json.loads((jobs / ".offboard-state.json").read_text())["jobs"]["hr.yaml"]
    report = cli.cwd / state["report_dir"]
    assert [r["outcome"] for r in results(report)] == ["revoked", "revoked", "forbidden"]
    sent = len(sb.requests())
    third = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert third.returncode == 1 and "forbidden" in third.stderr
    assert [r for r in sb.requests()[sent:] if r.method == "DELETE"] == []


def test_quiet_prints_a_line_on_stderr_for_every_non_zero_exit(cli, sandbox):
    """-q: silent on success; a wrong key (3), a row needing a person (1), a bad job file
    in a folder (2) and a failed job in a folder each print a line naming the cause."""
    sb = sandbox()
    cli.write("ok.csv", "account,user\n10,101\n")
    ok = cli("run", "ok.csv", "--base-url", sb.url, "-q")
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == ""
    cli.write("l.csv", "account,user\n10,102\n")
    bad_key = cli("run", "l.csv", "--base-url", sb.url, "-q", key="4242_wrong")
    assert bad_key.returncode == 3 and "401" in bad_key.stderr
    assert "report" in bad_key.stderr
    unreachable = cli(
        "run",
        "l.csv",
        "--base-url",
        "http://127.0.0.1:9",
        "-q",
        "--max-attempts",
        "1",
        "--timeout",
        "2",
    )
    assert unreachable.returncode == 3 and "aborted" in unreachable.stderr
    assert "--resume" in unreachable.stderr
    cli.write("f.csv", "account,user\n30,104\n")
    needs = cli("run", "f.csv", "--base-url", sb.url, "-q", "--report-dir", "f")
    assert needs.returncode == 1 and "forbidden" in needs.stderr and "f/" in needs.stderr
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "typo.yaml").write_text("users: [{account: 10, user: 105}]\nrat: 3\n")
    (jobs / "partner.yaml").write_text("users: [{account: 30, user: 104}]\n")
    (jobs / "fine.yaml").write_text("users: [{account: 10, user: 106}]\n")
    folder = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert folder.returncode == 2
    lines = folder.stderr.splitlines()
    assert any("typo.yaml" in line and "rat" in line for line in lines)
    assert any("partner.yaml" in line and "forbidden" in line for line in lines)
    assert not any("fine.yaml" in line for line in lines)


def test_metrics_after_a_folder_run_with_a_refused_job_and_after_a_no_op_run(cli, sandbox):
    """Every run rewrites the metrics: all jobs of a folder run (a refused one included) with
    their own label; a run with nothing to do still updates last_run; last_success only
    when nothing is left open."""
    sb = sandbox()
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "ok.yaml").write_text("users: [{account: 10, user: 101}]\n")
    (jobs / "capped.yaml").write_text(
        "max_revocations: 1\nusers: [{account: 10, user: 105}, {account: 10, user: 106}]\n"
    )
    (jobs / "readme.txt").write_text("x\n")
    prom = cli.cwd / "m.prom"
    first = cli("run", "jobs", "--base-url", sb.url, "-q", "--metrics-file", str(prom))
    assert first.returncode == 2
    m = metrics(prom)
    assert m[("offboard_rows", (("job", "ok"), ("outcome", "revoked")))] == 1
    assert m[("offboard_job_exit_code", (("job", "ok"),))] == 0
    assert m[("offboard_job_exit_code", (("job", "capped"),))] == 2
    assert m[("offboard_exit_code", ())] == 2
    assert m[("offboard_files_not_run", (("reason", "not_a_job_file"),))] == 1
    assert ("offboard_last_success_timestamp_seconds", ()) not in m
    ran = m[("offboard_last_run_timestamp_seconds", ())]
    (jobs / "capped.yaml").unlink()
    second = cli("run", "jobs", "--base-url", sb.url, "-q", "--metrics-file", str(prom))
    assert second.returncode == 0, second.stderr
    m = metrics(prom)
    assert m[("offboard_last_run_timestamp_seconds", ())] > ran
    assert m[("offboard_last_success_timestamp_seconds", ())] >= ran
    assert ("offboard_job_exit_code", (("job", "capped"),)) not in m
    cli.write("big.csv", "account,user\n10,105\n10,106\n")
    refused = cli(
        "run",
        "big.csv",
        "--base-url",
        sb.url,
        "-q",
        "--max-revocations",
        "1",
        "--metrics-file",
        str(prom),
    )
    assert refused.returncode == 2 and "cap" in refused.stderr
    m = metrics(prom)
    assert m[("offboard_job_exit_code", (("job", "big"),))] == 2
    assert m[("offboard_exit_code", ())] == 2
    assert (
        m[("offboard_last_success_timestamp_seconds", ())]
        < m[("offboard_last_run_timestamp_seconds", ())]
    )


# A batch with every outcome, a user in two accounts of the batch (deleted when both go)
# and a user deleted by one revoke; run with concurrency 1 so which row deletes a user is
# the same in every run.
# Two users' login history: 500 signed in after its rows' leave_date (an incident on both
# rows), 200 long ago; the report's login lists and counts must survive a resume too.
RESUME_USERS = [
    {**USERS[0], "roles": {10: "Administrators", 20: "Administrators"}},
    {**USERS[1], "logins": [{"at": "2026-11-10T08:00:00Z", "account": 10}]},
    *USERS[2:],
    {
        "id": 500,
        "email": "two@t.example",
        "roles": {10: "Users", 20: "Users"},
        "logins": [{"at": "2026-11-25T08:00:00Z", "account": 10, "ip": "192.0.2.5"}],
    },
    {
        "id": 501,
        "email": "tok@t.example",
        "roles": {10: "Users"},
        "tokens": [{"id": 950, "account": 10, "name": "ci"}],
    },
    {"id": 502, "email": "far@t.example", "roles": {30: "Users"}},
]
RESUME_BATCH = (
    "account,user,ticket,leave_date\n"
    + "".join(f"10,{200 + i},T{i},\n" for i in range(12))
    + "10,500,A,2026-11-20\n10,501,B,\n30,502,C,\n10,999,D,\n20,500,E,2026-11-20\n"
    + "10,200,F,\nx,1,G,\n"
    + "".join(f"10,{212 + i},U{i},\n" for i in range(12))
)
EMAILS = {str(u["id"]): u["email"] for u in RESUME_USERS}
# The same batch with every user the list knows given by email (999 is nobody's ID).
RESUME_BATCH_BY_EMAIL = "".join(
    ",".join([a, EMAILS.get(u, u), *rest]) + "\n" if a.isdigit() else line + "\n"
    for line in RESUME_BATCH.splitlines()
    for a, u, *rest in [line.split(",")]
)
# Row 18 (20,500) removes user 500's last account. In the run that is cut, its revoke is
# applied and its answer held back, so kill -9 finds it in flight (a known point, no race);
# the uninterrupted run loses that answer (a dropped connection after the revoke): both
# then get the contract's `missing` with "an earlier attempt may have revoked".
IN_FLIGHT_ROW, IN_FLIGHT_PAIR = "18", (20, 500)
# Times, and what the read-back cost (a resume reads back only what was not yet verified).
IGNORED = {
    "started_at",
    "finished_at",
    "run_id",
    "resumed",
    "duration_seconds",
    "verify_method",
    "verify_requests",
}
_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")
# Lines of summary.txt that say when, which run and what the read-back cost.
_RUN_LINES = re.compile(
    r"^(Batch|Started|Finished|Resumed|Read back) .*\n|"
    r"\b(base_url|resume)=\S+",
    re.M,
)


class _Comparable(TypedDict):
    files: list[str]
    tables: dict[str, list[dict[str, str]]]  # each CSV's rows
    summary: dict[str, Any]
    text: str  # summary.txt
    page: list[tuple[str, str]]  # report.html's (data- attribute, figure) pairs


def _comparable(directory: Path) -> _Comparable:
    """A report with what legitimately differs between runs taken out: times, request IDs
    (random per request), the read-back's cost, and for the row whose revoke may have been
    applied, how it came to be unsure (a kill, or a lost answer) and its attempts."""
    files = {p.name for p in directory.iterdir() if not p.name.startswith(".")}
    tables: dict[str, list[dict[str, str]]] = {}
    for name in sorted(files):
        if name.endswith(".csv"):
            tables[name] = [
                {
                    k: v
                    for k, v in row.items()
                    if k not in ("request_id", "settled_at")
                    and not (row.get("row") == IN_FLIGHT_ROW and k in ("message", "attempts"))
                }
                for row in _read(directory / name)
            ]
    summary = json.loads((directory / "summary.json").read_text())
    summary = {k: v for k, v in summary.items() if k not in IGNORED}
    # Each run had its own sandbox (port); a resume names the directory it resumed.
    summary["options"] = {
        k: v for k, v in summary["options"].items() if k not in ("resume", "base_url")
    }
    text = _RUN_LINES.sub("", _TIME.sub("T", (directory / "summary.txt").read_text()))
    # The commands the page offers name the report directory and the sandbox's port.
    text = re.sub(r"http://127\.0\.0\.1:\d+", "URL", text)
    text = re.sub(rf"(?<![\w./-]){directory.name}(?=/|\s|$)", "DIR", text)
    page: list[tuple[str, str]] = re.findall(
        r"<[^>]*\b(data-[\w-]+(?:=\"[^\"]*\")?)[^>]*>(\d+)<",
        (directory / "report.html").read_text(),
    )
    return {
        "files": sorted(files),
        "tables": tables,
        "summary": summary,
        "text": text,
        "page": page,
    }


def _read(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("given", ["id", "email"])
@pytest.mark.parametrize("kill_at", ["before_first_request", "in_flight", "during_report"])
def test_a_resumed_report_equals_an_uninterrupted_one(cli, sandbox, kill_at, given):
    """Kill -9 at one point, --resume: every report file (the lists, the whole summary.json,
    summary.txt, the page's counts) equals that of one uninterrupted run of the same batch on
    the same world (times, request IDs and the read-back's cost aside), rows given by ID or
    by email; a row in flight at the kill is `missing` and says the run was killed."""
    cli.write("l.csv", RESUME_BATCH if given == "id" else RESUME_BATCH_BY_EMAIL)
    args = ["--rate", "200", "--concurrency", "1", "--max-revocations", "100", "--timeout", "120"]
    account, user = IN_FLIGHT_PAIR
    lost = {"scripted": [{"account": account, "user": user, "responses": ["drop"]}]}
    whole = sandbox(world(users=RESUME_USERS, faults=lost))
    done = cli("run", "l.csv", "--base-url", whole.url, *args, "--report-dir", "whole")
    assert done.returncode == 1, done.stderr
    held = {"scripted": [{"account": account, "user": user, "responses": [{"delay": 100}]}]}
    cut = sandbox(
        world(
            users=RESUME_USERS,
            faults={"latency": 0.05, **(held if kill_at == "in_flight" else lost)},
        )
    )
    directory = cli.cwd / "cut"
    if kill_at == "during_report":
        assert (
            cli("run", "l.csv", "--base-url", cut.url, *args, "--report-dir", "cut").returncode == 1
        )
        # What a kill inside the report phase leaves: the journal complete, no summary,
        # one list renamed into place, another still a half-written temporary.
        for name in ("summary.json", "report.html", "summary.txt"):
            (directory / name).unlink()
        half = directory / ".offboard" / "results.csv.tmp"
        (directory / "results.csv").rename(half)
        with half.open("r+") as handle:
            handle.truncate(100)
    else:
        process = start(cli, "run", "l.csv", "--base-url", cut.url, *args, "--report-dir", "cut")
        if kill_at == "before_first_request":
            wait_for(lambda: directory.exists())
        else:  # every row before row 18 journaled, row 18's revoke applied, its answer held
            wait_for(
                lambda: (
                    len(journal_lines(directory)) >= int(IN_FLIGHT_ROW) - 2
                    and not cut.has_access(account, user)
                )
            )
        process.kill()
        process.communicate(timeout=10)
        if kill_at == "before_first_request":
            assert [r for r in cut.requests() if r.method == "DELETE"] == []
        else:
            assert len(journal_lines(directory)) == int(IN_FLIGHT_ROW) - 2
    resumed = cli("run", "l.csv", "--base-url", cut.url, "--resume", "cut")
    assert resumed.returncode == 1, resumed.stderr
    row = next(r for r in results(directory) if r["row"] == IN_FLIGHT_ROW)
    assert (row["outcome"], row["user_id"], row["email"], row["user_deleted"]) == (
        "missing",
        "500",
        "two@t.example",
        "true",
    )
    assert "an earlier attempt may have revoked" in row["message"]
    if kill_at == "in_flight":
        assert "killed or interrupted with this request in flight" in row["message"]
        assert "timed out" not in row["message"]
    got, wanted = _comparable(directory), _comparable(cli.cwd / "whole")
    assert got["files"] == wanted["files"]
    for name, rows in wanted["tables"].items():
        for mine, theirs in zip(got["tables"][name], rows, strict=True):
            assert mine == theirs, name
    assert got["summary"] == wanted["summary"]
    assert got["text"] == wanted["text"]
    assert got["page"] == wanted["page"]
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["users_deleted"] == 25  # 24 single-account users, and 500 (both accounts)
    # far@t.example (only in account 30, which the key does not administer) is not listed
    assert summary["revocations_planned"] == (29 if given == "id" else 28)
    assert [r["user_id"] for r in _read(directory / "logins_after_leaving.csv")] == ["500", "500"]
    assert summary["logins"]["after_leaving"] == 2 and summary["logins"]["quiet"] >= 20


def test_deletion_counts_agree_across_prompt_plan_and_run(cli, sandbox):
    """Who the batch deletes: the same number on the prompt, in the plan's summary and rows,
    and in the run's report, for a user in two accounts of the batch (deleted, marked on
    one row) and a user in three accounts with two in the batch (not deleted)."""
    users = [
        *WORLD["users"],
        {"id": 107, "email": "tri@t.example", "roles": {10: "Users", 20: "Users", 30: "Users"}},
    ]
    sb = sandbox(world(users=users))
    cli.write("l.csv", "account,user\n10,101\n10,107\n20,101\n20,107\n10,102\n")
    plan = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert plan.returncode == 0, plan.stderr
    summary = json.loads((cli.cwd / "p" / "summary.json").read_text())
    assert summary["users_would_be_deleted"] == 2  # 101 (both accounts) and 102
    rows = json.loads((cli.cwd / "p" / "plan.json").read_text())["rows"]
    assert [r["deletes_user"] for r in rows] == [False, False, True, False, True]
    marked = [r["row"] for r in results(cli.cwd / "p") if "would delete" in r["message"]]
    assert marked == ["4", "6"]
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb.url, "--report-dir", "r"], "y"
    )
    assert code == 0, screen
    assert "deleted: 2" in screen
    run_rows = results(cli.cwd / "r")
    assert sum(r["user_deleted"] == "true" for r in run_rows) == 2
    summary = json.loads((cli.cwd / "r" / "summary.json").read_text())
    assert summary["users_deleted"] == 2
    assert not sb.user_exists(101) and not sb.user_exists(102) and sb.user_exists(107)


def test_pasted_hints_run_as_printed(cli, sandbox):
    """The plan's "to run this plan" line and the resume line after SIGTERM carry every
    option they need: pasted, they run; resume reuses the recorded options and refuses a
    contradicting one."""
    users = [
        *USERS,
        *({"id": 240 + i, "email": f"r{i}@t.example", "roles": {10: "Users"}} for i in range(20)),
    ]
    sb = sandbox(world(users=users, faults={"latency": 0.2}))
    cli.write("l.csv", many(60))
    plan = cli(
        "plan",
        "l.csv",
        "--base-url",
        sb.url,
        "--max-revocations",
        "60",
        "--rate",
        "100",
        "--report-dir",
        "p",
    )
    assert plan.returncode == 0, plan.stderr
    hint = next(line for line in plan.stdout.splitlines() if "offboard run" in line)
    command = shlex.split(hint[hint.index("offboard run") :])
    assert "--base-url" in command and "--max-revocations" in command
    process = start(cli, *command[1:], "--report-dir", "r", "--rate", "50")
    wait_for(lambda: len(journal_lines(cli.cwd / "r")) >= 3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 3, err
    line = next(line for line in err.splitlines() if "--resume" in line)
    resume = shlex.split(line[line.index("offboard run") :])
    contradicting = cli(*resume[1:], "--rate", "7")
    assert contradicting.returncode == 2 and "--rate" in contradicting.stderr
    resumed = cli(*resume[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert len(results(cli.cwd / "r")) == 60
    assert {r["outcome"] for r in results(cli.cwd / "r")} == {"revoked"}


def test_json_log_format_prints_json_lines_only(cli, sandbox):
    """--log-format json: no text table on stdout, every stderr line is JSON with run_id
    (and job in folder runs), the summary is one event, a bad job file is an error event."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n30,104\n")
    single = cli("run", "l.csv", "--base-url", sb.url, "--log-format", "json")
    assert single.returncode == 1
    assert single.stdout == ""
    events = [json.loads(line) for line in single.stderr.splitlines()]
    assert all(e["run_id"] for e in events)
    assert [e["event"] for e in events].count("summary") == 1
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text("users: [{account: 10, user: 105}]\n")
    (jobs / "typo.yaml").write_text("users: [{account: 10, user: 106}]\nrat: 3\n")
    folder = cli("run", "jobs", "--base-url", sb.url, "--log-format", "json")
    assert folder.returncode == 2 and folder.stdout == ""
    events = [json.loads(line) for line in folder.stderr.splitlines()]
    assert all(e["run_id"] and "job" in e for e in events)
    errors = [e for e in events if e["event"] == "error"]
    assert errors and errors[0]["job"] == "typo" and "rat" in errors[0]["message"]
    bad = cli("run", "missing.csv", "--log-format", "json")
    assert bad.returncode == 2 and bad.stdout == ""
    assert json.loads(bad.stderr.splitlines()[0])["event"] == "error"


def test_a_plan_edited_by_hand_is_refused(cli, sandbox):
    """Rows added to or changed in plan.json after review are never sent: the run recomputes
    what SOURCE means and refuses (exit 2, nothing sent) a plan that differs from it."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    assert cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p").returncode == 0
    path = cli.cwd / "p" / "plan.json"
    original = path.read_text()
    plan = json.loads(original)
    plan["rows"].append({**plan["rows"][0], "row": 3, "user": 105, "user_id": 105})
    path.write_text(json.dumps(plan))
    added = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r1")
    assert added.returncode == 2 and "plan" in added.stderr
    plan = json.loads(original)
    plan["rows"][0]["user_id"] = 105
    path.write_text(json.dumps(plan))
    changed = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r2")
    assert changed.returncode == 2 and "row 2" in changed.stderr
    assert deletes(sb) == []


def test_a_plan_made_with_another_keys_user_is_refused(cli, sandbox):
    """A plan made while the key belonged to user 1 is refused when the key's user is now
    another one (exit 2, nothing sent)."""
    first = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    assert cli("plan", "l.csv", "--base-url", first.url, "--report-dir", "p").returncode == 0
    users = [
        {**u, "roles": {10: "Administrators", 20: "Administrators"}} if u["id"] == 105 else u
        for u in WORLD["users"]
    ]
    other = sandbox(world(users=users, key_user=105))
    done = cli("run", "p/plan.json", "--base-url", other.url, "--report-dir", "r")
    assert done.returncode == 2 and "user 1" in done.stderr and "105" in done.stderr
    assert deletes(other) == []


def test_a_sandbox_job_file_never_reaches_a_live_server(cli, sandbox):
    """A job file with a sandbox: world, run as a single file without --sandbox, is refused
    before any request."""
    sb = sandbox()
    cli.write(
        "demo.yaml", "users: [{account: 10, user: 101}]\nsandbox: " + json.dumps(WORLD) + "\n"
    )
    done = cli("run", "demo.yaml", "--base-url", sb.url)
    assert done.returncode == 2 and "--sandbox" in done.stderr
    assert sb.requests() == []


MODES = {
    "text": (),
    "quiet": ("-q",),
    "json": ("--log-format", "json"),
    "json-quiet": ("--log-format", "json", "-q"),
}


def _invoke(
    cli: Cli, sb: Sandbox, source: str, mode: tuple[str, ...], rows: str
) -> subprocess.CompletedProcess[str]:
    """Run one kind of SOURCE (a file, a folder, a resume, a plan) once, in one mode."""
    if source == "folder":
        (cli.cwd / "jobs").mkdir()
        (cli.cwd / "jobs" / "l.csv").write_text(rows)
        return cli("run", "jobs", "--base-url", sb.url, *mode)
    cli.write("l.csv", rows)
    if source == "plan":
        return cli("plan", "l.csv", "--base-url", sb.url, *mode, "--report-dir", "p")
    if source == "resume":
        cli("run", "l.csv", "--base-url", sb.url, "-q", "--report-dir", "r")
        return cli("run", "l.csv", "--base-url", sb.url, *mode, "--resume", "r")
    return cli("run", "l.csv", "--base-url", sb.url, *mode, "--report-dir", "r")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("source", ["file", "folder", "resume", "plan"])
def test_every_mode_against_every_kind_of_source(cli, sandbox, mode, source):
    """-q, --log-format json and both, against a file, a folder, a resume and a plan: a row
    needing a person gives exit 1 and a line on stderr naming it; JSON modes print JSON
    lines only; quiet modes print nothing on stdout."""
    sb = sandbox()
    done = _invoke(cli, sb, source, MODES[mode], "account,user\n10,101\n30,104\n")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines
    if "json" in mode:
        events = [json.loads(line) for line in lines]
        errors = [e for e in events if e["event"] == "error"]
        assert errors and "forbidden" in errors[-1]["message"] and done.stdout == ""
        assert all(e["run_id"] and "job" in e for e in events)
    else:
        assert any("forbidden" in line and "results.csv" in line for line in lines)
    if "quiet" in mode:
        assert done.stdout == ""
        assert len([line for line in lines if "forbidden" in line]) == 1 or "json" in mode


@pytest.mark.parametrize("source", ["file", "folder", "resume", "plan"])
def test_quiet_is_silent_when_all_is_well(cli, sandbox, source):
    """-q on a batch that settles: nothing on stdout or stderr, exit 0, in every mode of
    SOURCE."""
    sb = sandbox()
    done = _invoke(cli, sb, source, ("-q",), "account,user\n10,101\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_folder_run_writes_an_index_page_linking_every_job(cli, sandbox):
    """`run jobs/` writes reports/<folder>-run-<time>.html: each job that ran, its exit code,
    and a link to its report.html that exists."""
    from html.parser import HTMLParser

    sb = sandbox()
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "ok.yaml").write_text("users: [{account: 10, user: 101}]\n")
    (jobs / "partner.csv").write_text("account,user\n30,104\n")
    done = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert done.returncode == 1
    [index] = (cli.cwd / "reports").glob("jobs-run-*.html")
    links: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            links.extend(v for k, v in attrs if tag == "a" and k == "href" and v)

    text = index.read_text()
    Links().feed(text)
    pages = [link for link in links if link.endswith("report.html")]
    assert len(pages) == 2 and all((index.parent / link).is_file() for link in pages)
    assert "partner" in text and "ok" in text


def test_the_pages_delete_tokens_command_runs_as_printed(cli, sandbox):
    """summary.txt's command for token-blocked rows, pasted as printed, deletes the leaver's
    own token and revokes the row: a list offboard wrote is a valid SOURCE."""
    from .test_plan_and_guards_e2e import TOKENS_WORLD

    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", "account,user,ticket\n10,103,=HR-1\n10,101,HR-2\n")
    first = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "r")
    assert first.returncode == 1
    text = (cli.cwd / "r" / "summary.txt").read_text()
    line = next(line for line in text.splitlines() if "--delete-tokens" in line)
    command = shlex.split(line.strip())
    assert command[:2] == ["offboard", "run"] and "--base-url" in command
    again = cli(*command[1:])
    assert again.returncode == 0, again.stderr
    assert not sb.has_access(10, 103)
    assert sb.live_tokens(10, 103) == [] and sb.live_tokens(10, 1) == [901]


def test_kill_9_loses_no_settled_row_and_every_applied_revoke_is_accounted_for(cli, sandbox):
    """The journal's promise (offboard/journal/group_commit.py) against kill -9, fsyncs on a timer:
    every journal line is whole JSON; every revoke the sandbox applied is either journaled
    or named in the in-flight file (so --resume treats it as possibly applied); and --resume
    then settles every row with each revoke applied exactly once."""
    from offboard.journal.layout import IN_FLIGHT, JOURNAL

    users = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    users += [
        {"id": 200 + i, "email": f"p{i}@t.example", "roles": {10: "Users"}} for i in range(300)
    ]
    cut = sandbox(world(users=users, faults={"latency": 0.02}))
    cli.write("l.csv", "account,user\n" + "".join(f"10,{200 + i}\n" for i in range(300)))
    directory = cli.cwd / "r"
    process = start(
        cli,
        "run",
        "l.csv",
        "--base-url",
        cut.url,
        "--rate",
        "10000",
        "--concurrency",
        "8",
        "--max-revocations",
        "300",
        "--report-dir",
        "r",
    )
    wait_for(lambda: len(journal_lines(directory)) >= 60)
    process.kill()  # SIGKILL: no handler, no flush, no fsync
    process.communicate(timeout=10)
    time.sleep(0.3)  # let the sandbox finish what the dead process had sent
    inside = directory / ".offboard"
    journal = [json.loads(line) for line in (inside / JOURNAL).read_text().splitlines()]
    in_flight = [json.loads(line) for line in (inside / IN_FLIGHT).read_text().splitlines()]
    assert len(journal) >= 60
    settled = {int(r["user"]) for r in journal}
    marked = {int(r["user"]) for r in in_flight}
    applied = {
        int(r.path.rsplit("/", 1)[1]) for r in cut.requests() if r.method == "DELETE" and r.applied
    }
    assert applied <= settled | marked
    assert {int(r["user"]) for r in journal if r["outcome"] == "revoked"} <= applied
    resumed = cli("run", "l.csv", "--base-url", cut.url, "--resume", "r")
    assert resumed.returncode == 0, resumed.stderr
    rows = results(directory)
    assert len(rows) == 300 and {r["outcome"] for r in rows} <= {"revoked", "missing"}
    revokes = Counter(r.path for r in cut.requests() if r.method == "DELETE" and r.applied)
    assert len(revokes) == 300 and set(revokes.values()) == {1}
