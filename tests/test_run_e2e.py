"""offboard run end to end: the real CLI, over loopback HTTP, against the sandbox."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

from offboard.sandbox import RequestRecord, Sandbox

from .conftest import KEY, world
from .helpers import drain


def results(directory: Path) -> list[dict[str, str]]:
    with (directory / "results.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def outcomes(directory: Path) -> list[str]:
    return [r["outcome"] for r in results(directory)]


def deletes(sb: Sandbox) -> list[RequestRecord]:
    return [r for r in sb.requests() if r.method == "DELETE"]


def test_every_outcome_from_a_csv(cli, sandbox):
    """Each kind of row ends with the contract's outcome, in input order, exit 1."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 105, "responses": [503, 503, 503]}]})
    )
    cli.write(
        "leavers.csv",
        "account,user,ticket\n"
        "10,101,T1\n"  # 2 revoked (keeps account 20)
        "10,bob@t.example,T2\n"  # 3 revoked by email, case-insensitive; user deleted
        "20,102,T3\n"  # 4 missing: not in account 20
        "10,103,T4\n"  # 5 token_blocked
        "30,104,T5\n"  # 6 forbidden
        "10,105,T6\n"  # 7 failed: 503 on every attempt
        "10,zed@t.example,T7\n"  # 8 missing: no such email
        "\n"  # 9 blank line, still counted
        "10,abc,T8\n"  # 10 invalid
        "10,101,T9\n",
    )  # 11 duplicate
    done = cli(
        "run",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "50",
        "--max-attempts",
        "3",
        "--report-dir",
        "out",
    )
    assert done.returncode == 1, done.stderr
    rows = results(cli.cwd / "out")
    assert [(r["row"], r["outcome"]) for r in rows] == [
        ("2", "revoked"),
        ("3", "revoked"),
        ("4", "missing"),
        ("5", "token_blocked"),
        ("6", "forbidden"),
        ("7", "failed"),
        ("8", "missing"),
        ("10", "invalid"),
        ("11", "duplicate"),
    ]
    assert list(rows[0]) == [
        "row",
        "account",
        "user",
        "user_id",
        "outcome",
        "http_status",
        "attempts",
        "request_id",
        "message",
        "name",
        "email",
        "user_deleted",
        "verified",
        "settled_at",
        "account_name",
        "ticket",
    ]
    assert rows[1]["user_id"] == "102" and rows[1]["user"] == "bob@t.example"
    assert rows[5]["attempts"] == "3" and "503" in rows[5]["message"]
    assert all(r["request_id"] for r in rows[:6])
    assert "user: must be" in rows[7]["message"] and rows[8]["ticket"] == "T9"
    # The sandbox's state is the truth: revoked rows lost access, the others kept it.
    assert not sb.has_access(10, 101) and sb.has_access(20, 101)
    assert not sb.user_exists(102)
    assert sb.has_access(10, 103) and sb.has_access(10, 105)
    assert len(deletes(sb)) == 8  # 1+1+1+1+1+3: no DELETE for missing email/invalid/duplicate
    summary = json.loads((cli.cwd / "out" / "summary.json").read_text())
    assert summary["rows"] == 9 and summary["exit_code"] == 1
    assert summary["counts"]["revoked"] == 2 and summary["source"] == "leavers.csv"
    listed = sorted(p.name for p in (cli.cwd / "out").iterdir())
    # What people open; what only offboard reads back is in the hidden .offboard/ folder.
    assert listed == [
        ".offboard",
        "duplicate.csv",
        "failed.csv",
        "forbidden.csv",
        "invalid.csv",
        "last_logins.csv",
        "missing.csv",
        "people.csv",
        "report.html",
        "results.csv",
        "results.jsonl",
        "revoked.csv",
        "summary.json",
        "summary.txt",
        "token_blocked.csv",
    ]
    assert sorted(p.name for p in (cli.cwd / "out" / ".offboard").iterdir()) == [
        "inflight.jsonl",
        "journal.jsonl",
        "lock",
        "ordered.jsonl",
        "run.json",
    ]
    assert "token_blocked" in done.stdout and "Report:" in done.stdout


def test_all_settled_is_exit_0_and_report_is_owner_only(cli, sandbox):
    """revoked, missing and duplicate rows need no person: exit 0; files are 0600."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n20,102\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    assert outcomes(cli.cwd / "out") == ["revoked", "missing", "duplicate"]
    out = cli.cwd / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()} == {0o600}
    assert stat.S_IMODE((out / ".offboard").stat().st_mode) == 0o700
    journal = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(j["row"] for j in journal) == [2, 3, 4]


def test_default_report_dir_is_named_after_the_source(cli, sandbox):
    """Without --report-dir the report goes to reports/<source>-<UTC time>/."""
    sb = sandbox()
    cli.write("hr-42.csv", "account,user\n10,101\n")
    assert cli("run", "hr-42.csv", "--base-url", sb.url).returncode == 0
    made = list((cli.cwd / "reports").iterdir())
    assert len(made) == 1 and made[0].name.startswith("hr-42-") and made[0].name.endswith("Z")


def test_bad_key_aborts_with_exit_3_and_sends_nothing_more(cli, sandbox):
    """A 401 (here on the first request, /iam/clients/me) stops the run: exit 3, a complete
    report, every usable row not_attempted, and no other request."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n10,abc\n")
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--concurrency",
        "1",
        "--report-dir",
        "o",
        key="4242_wrongwrongwrong",
    )
    assert done.returncode == 3, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["not_attempted"] * 3 + ["invalid"]
    assert "401" in rows[0]["message"]
    assert [(r.path, r.status) for r in sb.requests()] == [("/iam/clients/me", 401)]
    assert sb.has_access(10, 101)


def test_key_revoked_mid_run_aborts_with_exit_3(cli, sandbox):
    """A 401 on a revoke: that row fails with 401, nothing more is sent, the rest not_attempted."""
    sb = sandbox(world(faults={"scripted": [{"account": 10, "user": 102, "responses": [401]}]}))
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n10,106\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--concurrency", "1", "--report-dir", "o")
    assert done.returncode == 3, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["revoked", "failed", "not_attempted", "not_attempted"]
    assert rows[1]["http_status"] == "401"
    assert sb.requests()[-1].status == 401 and sb.has_access(10, 105)
    assert json.loads((cli.cwd / "o" / "summary.json").read_text())["exit_code"] == 3


def test_bad_key_during_email_lookup_sends_no_revoke(cli, sandbox):
    """A 401 on the user list aborts before any DELETE: every row not_attempted."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,ann@t.example\n10,102\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o", key="4242_nopenope")
    assert done.returncode == 3
    assert outcomes(cli.cwd / "o") == ["not_attempted", "not_attempted"]
    assert [r.method for r in sb.requests()] == ["GET"]


def test_header_only_csv_is_exit_0_with_an_empty_report(cli, sandbox):
    """A batch with nothing to do sends nothing and exits 0."""
    sb = sandbox()
    cli.write("l.csv", "account,user,ticket\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    assert (cli.cwd / "o" / "results.csv").read_text().startswith("\ufeffrow,account")
    assert results(cli.cwd / "o") == [] and sb.requests() == []


def test_stdin_source(cli, sandbox):
    """`-` reads CSV from stdin."""
    sb = sandbox()
    done = cli(
        "run", "-", "--base-url", sb.url, "--report-dir", "o", stdin="account,user\n10,101\n"
    )
    assert done.returncode == 0 and outcomes(cli.cwd / "o") == ["revoked"]


def test_yaml_row_list_and_job_file_settings(cli, sandbox):
    """A YAML row list runs; a job file's input CSV and settings apply, the CLI wins."""
    sb = sandbox()
    cli.write("rows.yaml", "- {account: 10, user: 101, ticket: A}\n- {account: 10, user: 0}\n")
    assert cli("run", "rows.yaml", "--base-url", sb.url, "--report-dir", "a").returncode == 1
    assert outcomes(cli.cwd / "a") == ["revoked", "invalid"]
    cli.write("in.csv", "account,user\n10,105\n")
    cli.write(
        "job.yaml",
        "name: hr\nrate: 7\nconcurrency: 2\nreport_dir: job-out\n"
        "users: [{account: 10, user: 106}]\ninput: in.csv\n",
    )
    done = cli("run", "job.yaml", "--base-url", sb.url, "--rate", "9")
    assert done.returncode == 0, done.stderr
    options = json.loads((cli.cwd / "job-out" / "summary.json").read_text())["options"]
    assert (options["rate"], options["concurrency"], options["max_attempts"]) == (9.0, 2, 5)
    assert outcomes(cli.cwd / "job-out") == ["revoked", "revoked"]


def test_retries_honour_retry_after_and_pause_the_whole_run(cli, sandbox):
    """503 then 429 (Retry-After 1) then 200: revoked in 3 attempts, and during the
    pause no other request starts."""
    sb = sandbox(
        world(
            faults={
                "scripted": [
                    {
                        "account": 10,
                        "user": 101,
                        "responses": [503, {"status": 429, "retry_after": 1}],
                    }
                ]
            }
        )
    )
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n10,106\n20,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--rate", "50", "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    rows = results(cli.cwd / "o")
    assert rows[0]["outcome"] == "revoked" and rows[0]["attempts"] == "3"
    log = sb.requests()
    limited = next(r for r in log if r.status == 429)
    later = [r.time - limited.time for r in log if r.time > limited.time]
    assert later and min(later) >= 0.9


def test_dropped_connection_after_revoke_is_missing_with_a_warning(cli, sandbox):
    """The revoke is applied but its answer lost; the retry's 404 says so."""
    sb = sandbox(world(faults={"scripted": [{"account": 10, "user": 101, "responses": ["drop"]}]}))
    cli.write("l.csv", "account,user\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    row = results(cli.cwd / "o")[0]
    assert (row["outcome"], row["attempts"]) == ("missing", "2")
    assert "earlier attempt may have revoked" in row["message"]
    assert not sb.has_access(10, 101)


def test_timeout_after_sending_then_404_is_missing_with_a_warning(cli, sandbox):
    """A revoke whose answer comes after --timeout: retried, 404, flagged as maybe applied."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 101, "responses": [{"delay": 3}]}]})
    )
    cli.write("l.csv", "account,user\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--timeout", "1", "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    row = results(cli.cwd / "o")[0]
    assert row["outcome"] == "missing" and "may have revoked" in row["message"]


def test_rate_ceiling_holds_in_every_one_second_window(cli, sandbox):
    """Counted from the sandbox's own log: no 1 s window holds more than rate + 10%,
    retries and the user list included."""
    users = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    users += [
        {"id": 1000 + i, "email": f"u{i}@t.example", "roles": {10: "Users"}} for i in range(70)
    ]
    faults = {
        "page_size_max": 20,
        "scripted": [
            {"account": 10, "user": 1000 + i, "responses": [503]} for i in range(0, 70, 7)
        ],
    }
    sb = sandbox(world(users=users, faults=faults))
    lines = [f"10,{1000 + i}" for i in range(60)] + [f"10,u{i}@t.example" for i in range(60, 70)]
    cli.write("l.csv", "account,user\n" + "\n".join(lines) + "\n")
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "20",
        "--concurrency",
        "8",
        "--max-revocations",
        "70",
        "--report-dir",
        "o",
    )
    assert done.returncode == 0, done.stderr
    times = sorted(r.time for r in sb.requests())
    assert len(times) >= 70 + 10 + 4  # revokes, retries, user pages
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 22, f"{busiest} requests in one second at --rate 20"
    pages = [r for r in sb.requests() if r.path == "/iam/users"]
    assert pages and all("limit=" in r.query for r in pages)


def test_key_never_appears_in_output_or_report(cli, sandbox):
    """A run with every kind of row: neither the key nor its secret part is printed or saved."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 105, "responses": [500, 500]}]})
    )
    cli.write("l.csv", "account,user\n10,101\n10,103\n30,104\n10,105\n10,x\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--max-attempts", "2", "--report-dir", "o")
    bad = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "p", key=KEY + "x")
    secret = KEY.split("_", 1)[1]
    texts = [done.stdout, done.stderr, bad.stdout, bad.stderr]
    texts += [p.read_text() for d in ("o", "p") for p in (cli.cwd / d).rglob("*") if p.is_file()]
    assert done.returncode == 1 and bad.returncode == 3
    assert not any(secret in text for text in texts)


def test_formula_cells_are_neutralised(cli, sandbox):
    """A carried cell starting with = is written with a leading quote in the CSV files."""
    sb = sandbox()
    cli.write("l.csv", 'account,user,note\n10,101,"=HYPERLINK(""http://x"")"\n')
    assert cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o").returncode == 0
    for name in ("results.csv", "revoked.csv"):
        assert results(cli.cwd / "o")[0]["note"].startswith("'=")
        assert "'=HYPERLINK" in (cli.cwd / "o" / name).read_text()


@pytest.mark.parametrize(
    ("files", "args", "env", "words"),
    [
        ({}, ["run", "nope.csv"], {}, "nope.csv: no such file"),
        ({"e.csv": ""}, ["run", "e.csv"], {}, "e.csv: the file is empty"),
        ({"c.csv": "name,x\na,b\n"}, ["run", "c.csv"], {}, "no 'account' column"),
        ({"c.txt": "account,user\n"}, ["run", "c.txt"], {}, "not a .csv"),
        (
            {"j.yaml": "users: []\nrate_limit: 1\n"},
            ["run", "j.yaml"],
            {},
            "unknown key 'rate_limit'",
        ),
        ({"c.csv": "account,user\n1,2\n"}, ["run", "c.csv"], {"GCORE_API_KEY": ""}, "no API key"),
        (
            {"c.csv": "account,user\n1,2\n"},
            ["run", "c.csv", "--base-url", "http://api.gcore.com"],
            {},
            "plain http:// is refused",
        ),
        (
            {"c.csv": "account,user\n1,2\n"},
            ["run", "c.csv"],
            {"GCORE_BASE_URL": "http://10.1.2.3"},
            "GCORE_BASE_URL: plain http://",
        ),
        ({"c.csv": "account,user\n1,2\n"}, ["run", "c.csv", "--rate", "0"], {}, "--rate: must be"),
        ({"c.csv": "account,user\n1,2\n"}, ["run", "c.csv", "--rate", "fast"], {}, "'fast'"),
        ({"c.csv": "account,user\n1,2\n"}, ["run", "c.csv", "--bogus"], {}, "No such option"),
        (
            {"c.csv": "account,user\n1,2\n"},
            ["run", "c.csv", "--api-key-file", "none"],
            {},
            "cannot read the key",
        ),
        (
            {"c.csv": "account,user\n1,2\n", "o/x": "x"},
            ["run", "c.csv", "--report-dir", "o"],
            {},
            "already holds files",
        ),
        (
            {"c.csv": "account,user\n1,2\n"},
            ["run", "c.csv", "--sandbox", "--base-url", "https://x.test"],
            {},
            "--sandbox brings its own",
        ),
        ({}, ["run"], {}, "Missing argument"),
    ],
)
def test_refusals_are_one_line_exit_2_and_send_nothing(cli, sandbox, files, args, env, words):
    """Each refusal: exit 2, one line on stderr naming the problem, no report, no request."""
    sb = sandbox()
    for name, text in files.items():
        (cli.cwd / name).parent.mkdir(exist_ok=True)
        cli.write(name, text)
    environ = {"GCORE_BASE_URL": sb.url, **env}
    done = cli(*args, env=environ, key=env.get("GCORE_API_KEY", KEY) or None)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("offboard: ")
    assert sb.requests() == [] and not (cli.cwd / "reports").exists()


def test_progress_only_on_a_terminal(cli, sandbox):
    """Piped stderr stays silent; a pseudo-terminal on stderr gets the progress display."""
    import os
    import pty
    import subprocess
    import sys

    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n")
    piped = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "a")
    assert piped.returncode == 0 and piped.stderr == ""
    main, secondary = pty.openpty()
    environ = {**os.environ, "GCORE_API_KEY": KEY, "TERM": "xterm"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offboard",
            "run",
            "l.csv",
            "--base-url",
            sb.url,
            "--rate",
            "4",
            "--report-dir",
            "b",
        ],
        cwd=cli.cwd,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    seen = drain(main)
    assert process.wait(timeout=30) == 0
    assert b"offboarding" in seen


def test_circuit_breaker_stops_a_run_against_an_api_that_only_answers_503(cli, sandbox):
    """Every revoke answered 503: after --max-consecutive-failures rows the run aborts,
    exit 3, the rest not_attempted and resumable."""
    users = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    users += [
        {"id": 500 + i, "email": f"z{i}@t.example", "roles": {10: "Users"}} for i in range(30)
    ]
    scripted = [{"account": 10, "user": 500 + i, "responses": [503] * 5} for i in range(30)]
    sb = sandbox(world(users=users, faults={"scripted": scripted}))
    cli.write("l.csv", "account,user\n" + "".join(f"10,{500 + i}\n" for i in range(30)))
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--concurrency",
        "2",
        "--max-attempts",
        "2",
        "--max-consecutive-failures",
        "4",
        "--report-dir",
        "o",
    )
    assert done.returncode == 3, done.stderr
    rows = results(cli.cwd / "o")
    counts = {o: sum(r["outcome"] == o for r in rows) for o in ("failed", "not_attempted")}
    assert 4 <= counts["failed"] <= 6 and counts["not_attempted"] == 30 - counts["failed"]
    assert "circuit breaker" in json.loads((cli.cwd / "o" / "summary.json").read_text())["aborted"]
    assert len(deletes(sb)) <= 2 * counts["failed"]


def test_an_api_answering_only_503_sends_no_revoke(cli, sandbox):
    """If even /iam/clients/me fails, the key's own user is unknown: nothing is revoked, exit 3."""
    sb = sandbox(world(faults={"error_rate": 1.0}))
    cli.write("l.csv", "account,user\n10,101\n10,102\n")
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--max-attempts",
        "2",
        "--report-dir",
        "o",
    )
    assert done.returncode == 3
    assert [r["outcome"] for r in results(cli.cwd / "o")] == ["not_attempted"] * 2
    assert deletes(sb) == []


def test_adaptive_rate_against_an_unknown_server_limit(cli, sandbox):
    """--rate far above a sandbox limit: every row still revoked, few requests refused."""
    users = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    users += [
        {"id": 700 + i, "email": f"w{i}@t.example", "roles": {10: "Users"}} for i in range(60)
    ]
    sb = sandbox(world(users=users, faults={"rate_limit": 20}))
    cli.write("l.csv", "account,user\n" + "".join(f"10,{700 + i}\n" for i in range(60)))
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "100",
        "--concurrency",
        "8",
        "--max-revocations",
        "60",
        "--report-dir",
        "o",
    )
    assert done.returncode == 0, done.stderr
    log = sb.requests()
    refused = sum(r.status == 429 for r in log)
    assert refused <= 0.15 * len(log), (refused, len(log))
