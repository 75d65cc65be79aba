"""`offboard restore` through the real CLI against the sandbox: its logs (-v, -q, JSON), its
metrics file, a user added back outside offboard, and formula cells in its CSVs (issue 19,
items 7 and 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from offboard.report.lists import neutralise

from .conftest import world
from .test_restore_e2e import revoke_three, rows


def posts(sb: Any) -> int:
    return len([r for r in sb.requests() if r.method == "POST"])


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = path.read_text(encoding="utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_json_mode_restore_prints_nothing_but_json(cli, sandbox):
    """--log-format json: nothing on stdout; on stderr one row event per settled row and one
    summary event, for --plan and for the restore itself."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    for extra, outcome in ((["--plan"], "would_restore"), ([], "restored")):
        done = cli(
            "restore",
            str(report),
            "--base-url",
            sb.url,
            "--log-format",
            "json",
            "--report-dir",
            f"r{len(extra)}",
            *extra,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        events = [json.loads(line) for line in done.stderr.splitlines()]
        assert all(e["run_id"] for e in events)
        settled = sorted((e["row"], e["outcome"]) for e in events if e["event"] == "row")
        assert settled == [(2, outcome), (3, outcome), (4, outcome)]  # in the order they settle
        summary = [e for e in events if e["event"] == "summary"]
        assert len(summary) == 1 and summary[0]["counts"] == {outcome: 3}
        assert summary[0]["exit_code"] == 0


def test_json_mode_restore_refusal_is_one_json_line(cli, sandbox):
    """A refused restore in JSON mode: one JSON error event, exit 2."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    done = cli("restore", str(report), "--base-url", sb.url, "--row", "99", "--log-format", "json")
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    event = json.loads(line)
    assert event["event"] == "error" and "no revoked row matches" in event["message"]


def test_verbose_restore_logs_each_row_and_quiet_contradicts_it(cli, sandbox):
    """-v: a line per settled row on stderr; -v with -q is a usage error (exit 2)."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    done = cli("restore", str(report), "--base-url", sb.url, "-v", "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    assert "row 2: restored: account 10 user ann@t.example: invited back" in done.stderr
    assert len([x for x in done.stderr.splitlines() if x.startswith("row ")]) == 3
    both = cli("restore", str(report), "--base-url", sb.url, "-v", "-q")
    assert both.returncode == 2 and "contradict" in both.stderr


def test_restore_writes_its_own_metrics(cli, sandbox):
    """--metrics-file: offboard_restore_* series labelled job, rows by outcome, new users,
    tokens gone, requests; none of the run's series (a restore must not reset its alerts)."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    done = cli(
        "restore",
        str(report),
        "--base-url",
        sb.url,
        "--report-dir",
        "r",
        "--metrics-file",
        "restore.prom",
    )
    assert done.returncode == 0, done.stderr
    got = samples(cli.cwd / "restore.prom")
    job = (("job", "run"),)
    assert got[("offboard_restore_rows", (("job", "run"), ("outcome", "restored")))] == 3
    assert got[("offboard_restore_exit_code", job)] == 0
    assert got[("offboard_restore_new_users", job)] == 2  # Bob and cy were deleted by the run
    assert got[("offboard_restore_tokens_gone", job)] == 1
    assert got[("offboard_restore_requests", (("job", "run"), ("status", "200")))] >= 5
    assert got[("offboard_restore_last_run_timestamp_seconds", job)] > 0
    assert not [name for name, _ in got if not name.startswith("offboard_restore_")]


def test_a_refused_restore_still_writes_metrics_and_a_runs_file_is_refused(cli, sandbox):
    """A refusal writes exit code 2 to the restore's file; a file holding a run's metrics is
    refused (exit 2, nothing sent, the file unchanged)."""
    sb = sandbox()
    report = revoke_three(cli, sb)
    refused = cli(
        "restore",
        str(report),
        "--base-url",
        sb.url,
        "--row",
        "99",
        "--metrics-file",
        "restore.prom",
    )
    assert refused.returncode == 2
    assert samples(cli.cwd / "restore.prom")[("offboard_restore_exit_code", (("job", "run"),))] == 2
    ran = cli(
        "run",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--report-dir",
        "again",
        "--metrics-file",
        "run.prom",
    )
    assert ran.returncode == 0, ran.stderr
    before = (cli.cwd / "run.prom").read_bytes()
    done = cli("restore", str(report), "--base-url", sb.url, "--metrics-file", "run.prom")
    assert done.returncode == 2 and "holds a run's metrics" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert (cli.cwd / "run.prom").read_bytes() == before and posts(sb) == 0


def test_a_user_added_back_outside_offboard_is_left_alone_without_a_post(cli, sandbox):
    """ann is put back into account 10 by hand after the run: `--plan` says already_member,
    and the restore sends no invite at all (zero POSTs in the sandbox's log), exit 0."""
    sb = sandbox()
    cli.write("ann.csv", "account,user\n10,101\n")
    run = cli("run", "ann.csv", "--base-url", sb.url, "--report-dir", "run")
    assert run.returncode == 0, run.stderr
    assert not sb.has_access(10, 101)
    sb.state.invite(10, "ann@t.example", "Users", None, "en")  # an admin, in the console
    assert sb.has_access(10, 101) and posts(sb) == 0

    planned = cli("restore", "run", "--base-url", sb.url, "--plan", "--report-dir", "p")
    assert planned.returncode == 0, planned.stderr
    assert [r["outcome"] for r in rows(cli.cwd / "p" / "results.csv")] == ["already_member"]
    assert "already_member" in planned.stdout
    done = cli("restore", "run", "--base-url", sb.url, "--yes", "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in rows(cli.cwd / "r" / "results.csv")] == ["already_member"]
    assert posts(sb) == 0


FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(1)"]


def test_a_restores_csvs_neutralise_formula_cells_as_the_runs_do(cli, sandbox):
    """Names and token names starting with = + - @ are quoted in every CSV a restore writes
    (results, restored, tokens_gone), exactly as report_files.neutralise quotes the run's."""
    users = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    users += [
        {
            "id": 101 + i,
            "email": f"u{i}@t.example",
            "name": name,
            "roles": {10: "Users", 20: "Users"},
            "tokens": [{"id": 900 + i, "account": 10, "name": name}],
        }
        for i, name in enumerate(FORMULAS)
    ]
    sb = sandbox(world(users=users))
    cli.write("l.csv", "account,user\n" + "".join(f"10,{101 + i}\n" for i in range(4)))
    run = cli("run", "l.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "run")
    assert run.returncode == 0, run.stderr
    done = cli("restore", "run", "--base-url", sb.url, "--yes", "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    expected = [neutralise(name) for name in FORMULAS]
    assert expected == ["'" + name for name in FORMULAS]
    for name in ("results.csv", "restored.csv"):
        assert [r["name"] for r in rows(cli.cwd / "r" / name)] == expected, name
    assert [r["token_name"] for r in rows(cli.cwd / "r" / "tokens_gone.csv")] == expected
