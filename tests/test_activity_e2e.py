"""Leavers who are still active: the real CLI reads the login log and flags what it finds."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import WORLD, world

LOGINS = "/iam/activity_log/logins"


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def recently(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def users_with_logins() -> list[dict[str, Any]]:
    users = [dict(u) for u in WORLD["users"]]
    # Ann (101) left on 2026-11-20 and signed in on the 30th; Bob (102) signed in yesterday.
    users[1]["logins"] = [
        {"at": recently(0.5), "account": 10, "successful": False},
        {
            "at": "2026-11-30T09:00:00Z",
            "account": 10,
            "ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (X11)",
        },
        {"at": "2026-11-19T09:00:00Z", "account": 10},
    ]
    users[2]["logins"] = [{"at": recently(1), "account": 10, "ip": "203.0.113.9"}]
    return users


BATCH = (
    "account,user,ticket,leave_date\n"
    "10,101,T1,2026-11-20\n"
    "20,ann@t.example,T1,2026-11-20\n"
    "10,105,T2,2026-11-01\n"
)


def test_a_login_after_leave_date_is_flagged_everywhere_and_plan_exits_1(cli, sandbox):
    """The row's message, plan's summary on stdout, report.html, summary.txt, summary.json and
    logins_after_leaving.csv (owner-only) all name the login; plan exits 1."""
    sb = sandbox(world(users=users_with_logins()))
    cli.write("l.csv", BATCH)
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 1, done.stderr
    assert "signed in after leaving" in done.stdout.lower() and "198.51.100.7" in done.stdout
    assert "after their leave_date" in done.stderr
    out = cli.cwd / "p"
    listed = read_csv(out / "logins_after_leaving.csv")
    assert [
        (
            r["row"],
            r["account"],
            r["user_id"],
            r["email"],
            r["leave_date"],
            r["login_at"],
            r["ip_address"],
            r["user_agent"],
        )
        for r in listed
    ] == [
        (
            "2",
            "10",
            "101",
            "ann@t.example",
            "2026-11-20",
            "2026-11-30T09:00:00Z",
            "198.51.100.7",
            "Mozilla/5.0 (X11)",
        ),
        (
            "3",
            "20",
            "101",
            "ann@t.example",
            "2026-11-20",
            "2026-11-30T09:00:00Z",
            "198.51.100.7",
            "Mozilla/5.0 (X11)",
        ),
    ]
    assert list(listed[0]) == [
        "row",
        "account",
        "user",
        "user_id",
        "email",
        "leave_date",
        "login_at",
        "ip_address",
        "user_agent",
        "account_name",
    ]
    assert stat.S_IMODE(os.stat(out / "logins_after_leaving.csv").st_mode) == 0o600
    rows = read_csv(out / "results.csv")
    assert "signed in after leaving" in rows[0]["message"]
    assert rows[0]["leave_date"] == "2026-11-20"  # still a carried column
    assert "signed in after leaving" not in rows[2]["message"]
    html = (out / "report.html").read_text()
    assert "Signed in after leaving" in html and "198.51.100.7" in html
    text = (out / "summary.txt").read_text()
    assert "Signed in after leaving (2)" in text and "198.51.100.7" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 1
    assert summary["logins"]["after_leaving"] == 2 and summary["logins"]["unknown"] == 0
    journal = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert journal[0]["login"]["flag"] == "after_leaving"
    assert journal[0]["login"]["ip_address"] == "198.51.100.7"
    assert sum(r.path == LOGINS for r in sb.requests()) == 1


def test_a_run_flags_the_login_in_its_report_and_on_stderr(cli, sandbox):
    """run revokes as before (exit 0) but reports the incident: its own list, a line on
    stderr even with -q, and the journal keeps the facts."""
    sb = sandbox(world(users=users_with_logins()))
    cli.write("l.csv", "account,user,leave_date\n10,101,2026-11-20\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "r", "-q")
    assert done.returncode == 0, done.stderr
    assert "after their leave_date" in done.stderr
    listed = read_csv(cli.cwd / "r" / "logins_after_leaving.csv")
    assert [r["login_at"] for r in listed] == ["2026-11-30T09:00:00Z"]
    assert "Signed in after leaving" in (cli.cwd / "r" / "report.html").read_text()


def test_a_recent_login_without_leave_date_is_a_warning_only(cli, sandbox):
    """No leave_date, a login within --active-days: a warning on stderr, exit 0, no list."""
    sb = sandbox(world(users=users_with_logins()))
    cli.write("l.csv", "account,user\n10,102\n10,105\n")
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 0, done.stderr
    assert "within the last 7 days" in done.stderr and "row 2" in done.stderr
    assert not (cli.cwd / "p" / "logins_after_leaving.csv").exists()
    summary = json.loads((cli.cwd / "p" / "summary.json").read_text())
    assert summary["logins"]["active"] == 1 and summary["logins"]["active_days"] == 7
    assert "Signed in recently" in (cli.cwd / "p" / "report.html").read_text()
    quiet = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "q", "--active-days", "0")
    assert quiet.returncode == 0 and "within the last" not in quiet.stderr


@pytest.mark.parametrize("answer", ["forbidden", "not_found"])
def test_an_unreadable_log_is_one_warning_and_the_plan_succeeds(cli, sandbox, answer):
    """403 or 404: activity unknown, one warning line, exit as without the log."""
    sb = sandbox(world(users=users_with_logins(), activity_log=answer))
    cli.write("l.csv", "account,user,leave_date\n10,101,2026-11-20\n")
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "login activity unknown" in lines[0]
    assert "HTTP 403" in lines[0] or "HTTP 404" in lines[0]
    summary = json.loads((cli.cwd / "p" / "summary.json").read_text())
    assert summary["logins"]["unknown"] == 1
    assert "unknown" in (cli.cwd / "p" / "summary.txt").read_text()


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "l.csv",
            "account,user,leave_date\n10,101,2026-11-20\n10,102,30/11/2026\n",
            "l.csv: row 3: leave_date: not a date",
        ),
        (
            "l.csv",
            "account,user,leave_date\n10,101,2099-01-01\n",
            "l.csv: row 2: leave_date: 2099-01-01 is in the future",
        ),
        (
            "l.yaml",
            "- {account: 10, user: 101, leave_date: 2026-02-30}\n",
            "l.yaml: row 1: leave_date: not a real date",
        ),
        (
            "j.yaml",
            "users:\n  - {account: 10, user: 101}\n  - {account: 10, user: 102, "
            "leave_date: soon}\n",
            "j.yaml: users: row 2: leave_date: not a date",
        ),
    ],
)
def test_a_bad_leave_date_refuses_the_batch_before_any_request(cli, sandbox, name, text, where):
    """A leave_date that is not a date, or is in the future: one line, exit 2, nothing sent."""
    sb = sandbox()
    cli.write(name, text)
    for command in (("plan",), ("run", "--yes")):
        done = cli(*command, name, "--base-url", sb.url)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"offboard: {done.stderr.split(': ', 1)[1]}".strip()
        ]
        assert where in done.stderr
    assert sb.requests() == []


def test_every_leaver_s_last_login_is_listed_by_the_plan(cli, sandbox):
    """plan shows each row's last successful login (time, IP, user agent), or that none was
    seen: last_logins.csv (owner-only) lists every row; the page's table and summary.txt the
    rows with a login, and count the rest in one line."""
    users = users_with_logins()
    sb = sandbox(world(users=users))
    cli.write("l.csv", BATCH + "10,102,T3,\n")
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "p"
    listed = read_csv(out / "last_logins.csv")
    assert list(listed[0]) == [
        "row",
        "account",
        "user",
        "user_id",
        "email",
        "name",
        "flag",
        "leave_date",
        "login_at",
        "ip_address",
        "user_agent",
        "note",
        "account_name",
    ]
    assert {(r["account"], r["account_name"]) for r in listed} == {("10", "Ten"), ("20", "Twenty")}
    assert [
        (r["row"], r["user_id"], r["flag"], r["login_at"], r["ip_address"]) for r in listed
    ] == [
        ("2", "101", "after_leaving", "2026-11-30T09:00:00Z", "198.51.100.7"),
        ("3", "101", "after_leaving", "2026-11-30T09:00:00Z", "198.51.100.7"),
        ("4", "105", "quiet", "", ""),
        ("5", "102", "active", users[2]["logins"][0]["at"], "203.0.113.9"),
    ]
    assert listed[0]["user_agent"] == "Mozilla/5.0 (X11)"
    assert stat.S_IMODE(os.stat(out / "last_logins.csv").st_mode) == 0o600
    html = (out / "report.html").read_text()
    # The page's table and summary.txt list the rows with a login; the rest is one line.
    assert "Last successful sign-in of each leaver (3 rows)" in html
    assert "No successful sign-in seen for the user of the other 1 row." in html
    assert html.count("203.0.113.9") == 2  # the warning's table and the full one
    text = (out / "summary.txt").read_text()
    assert "Last successful sign-in of each leaver (3)" in text
    assert "No successful sign-in seen for the user of the other 1 row in the login log" in text
    summary = json.loads((out / "summary.json").read_text())
    assert {k: summary["logins"][k] for k in ("after_leaving", "active", "quiet", "unknown")} == {
        "after_leaving": 2,
        "active": 1,
        "quiet": 1,
        "unknown": 0,
    }


@pytest.mark.parametrize("mode", [("-q",), ("--log-format", "json", "-q"), ()])
@pytest.mark.parametrize("source", ["file", "folder", "resume", "plan"])
def test_a_login_after_leaving_is_said_on_stderr_in_every_mode(cli, sandbox, source, mode):
    """-q and JSON logs, against a file, a folder, a resume and a plan: the incident is never
    silenced; plan exits 1, a run keeps its exit code (0 here: the access is gone)."""
    from .test_seams_e2e import _invoke

    sb = sandbox(world(users=users_with_logins()))
    done = _invoke(cli, sb, source, mode, "account,user,leave_date\n10,101,2026-11-20\n")
    assert done.returncode == (1 if source == "plan" else 0), done.stderr
    if "json" in mode:
        events = [json.loads(line) for line in done.stderr.splitlines()]
        assert any("after their leave_date" in e.get("message", "") for e in events), events
    else:
        assert "after their leave_date" in done.stderr
    if "-q" in mode:
        assert done.stdout == ""


def test_the_prompt_on_a_terminal_names_the_leaver_who_signed_in_after_leaving(cli, sandbox):
    """run on a TTY: the confirmation names the incident (who, when, from where) before the
    question; 'n' sends nothing."""
    from .test_plan_and_guards_e2e import _run_on_a_terminal

    sb = sandbox(world(users=users_with_logins()))
    cli.write("l.csv", "account,user,leave_date\n10,101,2026-11-20\n10,102,\n")
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb.url, "--report-dir", "no"], "n"
    )
    assert code == 2, screen
    before = screen.split("Proceed?")[0]
    assert "POSSIBLE SECURITY INCIDENT: signed in after their leave_date: 1" in before
    assert "2026-11-30T09:00:00Z from 198.51.100.7" in before
    assert "Signed in within the last 7 days" in before and "203.0.113.9" in before
    assert [r for r in sb.requests() if r.method == "DELETE"] == []


def test_active_days_in_a_job_file_and_the_command_line_wins(cli, sandbox):
    """A job file's active_days sets the window for cron; --active-days overrides it; a bad
    value names the file and the key (exit 2, nothing sent)."""
    sb = sandbox(world(users=users_with_logins()))
    cli.write("job.yaml", "active_days: 0\nusers:\n  - {account: 10, user: 102}\n")
    off = cli("plan", "job.yaml", "--base-url", sb.url, "--report-dir", "a")
    assert off.returncode == 0 and "within the last" not in off.stderr, off.stderr
    assert json.loads((cli.cwd / "a" / "summary.json").read_text())["logins"]["active_days"] == 0
    on = cli("plan", "job.yaml", "--base-url", sb.url, "--report-dir", "b", "--active-days", "3")
    assert on.returncode == 0 and "within the last 3 days" in on.stderr, on.stderr
    cli.write("bad.yaml", "active_days: soon\nusers:\n  - {account: 10, user: 102}\n")
    before = len(sb.requests())
    bad = cli("plan", "bad.yaml", "--base-url", sb.url)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "offboard: bad.yaml: active_days: must be a whole number of days, 0 to 3650"
    )
    assert len(sb.requests()) == before


def test_metrics_count_logins_after_leaving_for_alerting(cli, sandbox):
    """A run that revokes a leaver who signed in after leaving exits 0 (the access is gone);
    the metrics file still says so, per job and in total, for an alert rule."""
    from prometheus_client.parser import text_string_to_metric_families

    sb = sandbox(world(users=users_with_logins()))
    cli.write("l.csv", "account,user,leave_date\n10,101,2026-11-20\n10,102,\n")
    prom = cli.cwd / "offboard.prom"
    done = cli(
        "run", "l.csv", "--base-url", sb.url, "-q", "--report-dir", "r", "--metrics-file", str(prom)
    )
    assert done.returncode == 0, done.stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(prom.read_text())
        for s in f.samples
    }
    assert samples[("offboard_logins_after_leaving", (("job", "l"),))] == 1
    assert samples[("offboard_batch_logins_after_leaving", ())] == 1
    clean = cli(
        "run",
        "l.csv",
        "--base-url",
        sandbox(world()).url,
        "-q",
        "--report-dir",
        "s",
        "--metrics-file",
        str(prom),
    )
    assert clean.returncode == 0, clean.stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(prom.read_text())
        for s in f.samples
    }
    assert samples[("offboard_batch_logins_after_leaving", ())] == 0


def test_the_log_is_read_back_to_the_oldest_leave_date_of_the_rows(cli, sandbox):
    """Rows parsed while the look-ups run (job/ahead.py) still set how far back the login
    log is read: to the oldest leave_date (15 days), past the 7-day window, where a page
    ending 7.6 days back would otherwise stop it; the login 12 days back is found."""
    users = [dict(u) for u in WORLD["users"]]
    users[1]["logins"] = [{"at": recently(12), "account": 10, "ip": "198.51.100.7"}]
    users[2]["logins"] = [{"at": recently(1 + 8 * i / 120), "account": 10} for i in range(120)]
    sb = sandbox(world(users=users))
    left = (datetime.now(UTC) - timedelta(days=15)).strftime("%Y-%m-%d")
    cli.write("l.csv", f"account,user,leave_date\n10,101,{left}\n")
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p", "--active-days", "7")
    assert done.returncode == 1, done.stderr
    listed = read_csv(cli.cwd / "p" / "logins_after_leaving.csv")
    assert [r["ip_address"] for r in listed] == ["198.51.100.7"]
    assert sum(r.path == LOGINS for r in sb.requests()) == 2
