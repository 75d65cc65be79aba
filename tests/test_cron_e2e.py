"""Cron-grade runs: kill -9 and --resume, locks, signals, JSON logs, metrics, the jobs/ inbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from offboard.sandbox import Sandbox

from .conftest import KEY, WORLD, Cli, world
from .test_run_e2e import results

USERS: list[dict[str, Any]] = [
    {"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}
]
USERS += [{"id": 200 + i, "email": f"p{i}@t.example", "roles": {10: "Users"}} for i in range(40)]


def many(rows: int) -> str:
    return "account,user\n" + "".join(f"10,{200 + i}\n" for i in range(rows))


def start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    environ["GCORE_API_KEY"] = KEY
    return subprocess.Popen(
        [sys.executable, "-m", "offboard", *args],
        cwd=cli.cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def journal_lines(directory: Path) -> list[dict[str, Any]]:
    path = directory / "results.jsonl"
    if not path.exists():
        return []
    records: list[dict[str, Any]] = [
        json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")
    ]
    return records


def applied_deletes(sb: Sandbox) -> Counter[str]:
    return Counter(r.path for r in sb.requests() if r.method == "DELETE" and r.applied)


def test_kill_9_then_resume_settles_every_row_and_revokes_nothing_twice(cli, sandbox):
    """kill -9 mid-run, then --resume: every row ends revoked or missing, no pair is revoked
    twice, and no row the journal had settled is sent again."""
    sb = sandbox(world(users=USERS, faults={"latency": 0.15}))
    cli.write("l.csv", many(30))
    process = start(
        cli,
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "100",
        "--concurrency",
        "4",
        "--report-dir",
        "o",
    )
    wait_for(lambda: len(journal_lines(cli.cwd / "o")) >= 8)
    process.kill()
    process.communicate(timeout=10)
    settled_before = {r["user"] for r in journal_lines(cli.cwd / "o")}
    sent_before = len(sb.requests())
    done = cli("run", "l.csv", "--base-url", sb.url, "--rate", "100", "--resume", "o")
    assert done.returncode == 0, done.stderr
    rows = results(cli.cwd / "o")
    assert len(rows) == 30 and {r["outcome"] for r in rows} <= {"revoked", "missing"}
    assert all("may have revoked" in r["message"] for r in rows if r["outcome"] == "missing")
    assert max(applied_deletes(sb).values()) == 1 and len(applied_deletes(sb)) == 30
    resent = {r.path.rsplit("/", 1)[1] for r in sb.requests()[sent_before:] if r.method == "DELETE"}
    assert not resent & settled_before
    assert json.loads((cli.cwd / "o" / "summary.json").read_text())["resumed"] == len(
        settled_before
    )


def test_resume_retries_what_needs_it_and_refuses_another_source(cli, sandbox):
    """Resume keeps revoked/missing rows, sends failed/token_blocked ones again, and refuses a
    different SOURCE with exit 2."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 105, "responses": [503, 503]}]})
    )
    cli.write("l.csv", "account,user\n10,101\n20,102\n10,105\n")
    first = cli("run", "l.csv", "--base-url", sb.url, "--max-attempts", "2", "--report-dir", "o")
    assert first.returncode == 1
    assert [r["outcome"] for r in results(cli.cwd / "o")] == ["revoked", "missing", "failed"]
    again = cli("run", "l.csv", "--base-url", sb.url, "--resume", "o")
    assert again.returncode == 0, again.stderr
    assert [r["outcome"] for r in results(cli.cwd / "o")] == ["revoked", "missing", "revoked"]
    assert applied_deletes(sb)["/iam/clients/10/client-users/101"] == 1
    cli.write("other.csv", "account,user\n10,106\n")
    refused = cli("run", "other.csv", "--base-url", sb.url, "--resume", "o")
    assert refused.returncode == 2 and "another SOURCE" in refused.stderr


@contextmanager
def running(cli: Cli, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`start` a run; kill it on the way out if a failed assertion left it running."""
    process = start(cli, *args)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def holds(process: subprocess.Popen[str], lock: Path, sb: Sandbox, since: int = 0) -> bool:
    """The run is inside its session holding `lock`: the lock file names its PID (written
    only once flock succeeded) and the sandbox has answered a DELETE after request `since`
    (so its signal handler is installed: SIGTERM means exit 3, not a kill)."""
    assert process.poll() is None, process.communicate()[1]
    return (
        lock.exists()
        and lock.read_text().strip() == str(process.pid)
        and any(r.method == "DELETE" for r in sb.requests()[since:])
    )


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM: the run finishes the one request in flight, writes its report, exits."""
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    return process.returncode


def test_a_second_run_on_the_same_job_or_directory_exits_2_naming_the_pid(cli, sandbox):
    """While a run holds the job (and its report directory), a second one exits 2 at once."""
    # One row at a time, 0.5 s each: a run seen holding its lock has about 20 s of work left,
    # far more than another run needs to start and be refused, even on a loaded machine (the
    # old 10 rows at 0.3 s could finish first). SIGTERM still ends it within one request.
    sb = sandbox(world(users=USERS, faults={"latency": 0.5}))
    cli.write("in.csv", many(40))
    cli.write("job.yaml", "input: in.csv\nconcurrency: 1\n")
    with running(cli, "run", "job.yaml", "--base-url", sb.url, "--report-dir", "o") as first:
        wait_for(lambda: holds(first, cli.cwd / ".job.yaml.lock", sb), timeout=60)
        second = cli("run", "job.yaml", "--base-url", sb.url, "--report-dir", "p")
        assert first.poll() is None, "the first run ended before the second one was refused"
        assert second.returncode == 2 and f"PID {first.pid}" in second.stderr, second.stderr
        assert stop(first) == 3
    sent = len(sb.requests())
    with running(
        cli, "run", "in.csv", "--base-url", sb.url, "--concurrency", "1", "--report-dir", "q"
    ) as first:
        # --resume reads run.json before it asks for the lock: wait for both.
        wait_for(
            lambda: (
                holds(first, cli.cwd / "q" / ".offboard" / "lock", sb, since=sent)
                and (cli.cwd / "q" / ".offboard" / "run.json").exists()
            ),
            timeout=60,
        )
        third = cli("run", "in.csv", "--base-url", sb.url, "--resume", "q")
        assert first.poll() is None, "the first run ended before the resume was refused"
        assert third.returncode == 2 and f"PID {first.pid}" in third.stderr, third.stderr
        assert stop(first) == 3


def test_sigterm_finishes_in_flight_and_writes_a_complete_report(cli, sandbox):
    """SIGTERM: nothing new is sent, requests in flight finish, every row is in the report
    (unsent ones not_attempted), exit 3."""
    sb = sandbox(world(users=USERS, faults={"latency": 0.25}))
    cli.write("l.csv", many(20))
    process = start(
        cli,
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "100",
        "--concurrency",
        "2",
        "--report-dir",
        "o",
    )
    wait_for(lambda: len(journal_lines(cli.cwd / "o")) >= 2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 3, err
    rows = results(cli.cwd / "o")
    assert len(rows) == 20 and "Traceback" not in err
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["not_attempted"] >= 10 and outcomes["revoked"] >= 2
    assert set(outcomes) <= {"revoked", "not_attempted"}
    assert sum(applied_deletes(sb).values()) == outcomes["revoked"]
    summary = json.loads((cli.cwd / "o" / "summary.json").read_text())
    assert summary["exit_code"] == 3 and "SIGTERM" in summary["aborted"]


def test_json_logs_parse_line_by_line_with_the_run_id(cli, sandbox):
    """--log-format json: an object per settled row and per retry, a final summary and the
    error that says why the exit code is 1, each with the same run_id; nothing else on
    stderr. -q then prints only that one line."""
    sb = sandbox(world(faults={"scripted": [{"account": 10, "user": 101, "responses": [503]}]}))
    cli.write("l.csv", "account,user\n10,101\n20,102\n10,x\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--log-format", "json", "--report-dir", "o")
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert {line["run_id"] for line in lines} == {lines[0]["run_id"]} and lines[0]["run_id"]
    events = Counter(line["event"] for line in lines)
    assert events == {"row": 3, "retry": 1, "summary": 1, "error": 1}
    retry = next(line for line in lines if line["event"] == "retry")
    assert retry["reason"] == "HTTP 503" and retry["attempt"] == 1 and retry["delay"] > 0
    assert lines[-2]["event"] == "summary" and lines[-2]["counts"]["revoked"] == 1
    assert lines[-1]["event"] == "error" and "1 invalid" in lines[-1]["message"]
    quiet = cli("run", "l.csv", "--base-url", sb.url, "-q", "--report-dir", "q")
    assert quiet.stdout == "" and len(quiet.stderr.splitlines()) == 1
    assert "1 invalid" in quiet.stderr and "q/results.csv" in quiet.stderr
    verbose = cli("run", "l.csv", "--base-url", sb.url, "-v", "--report-dir", "v")
    assert "row 2: missing" in verbose.stderr


def test_metrics_file_is_valid_textfile_format(cli, sandbox):
    """--metrics-file: parseable by Prometheus' own parser; last_success survives a failed run."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n20,102\n")
    assert (
        cli(
            "run", "l.csv", "--base-url", sb.url, "--metrics-file", "m.prom", "--report-dir", "a"
        ).returncode
        == 0
    )
    first = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families((cli.cwd / "m.prom").read_text())
        for s in family.samples
    }
    assert first[("offboard_rows", (("job", "l"), ("outcome", "revoked")))] == 1
    assert first[("offboard_requests", (("job", "l"), ("status", "200")))] >= 2
    success = first[("offboard_last_success_timestamp_seconds", ())]
    assert abs(success - time.time()) < 60
    bad = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--metrics-file",
        "m.prom",
        "--report-dir",
        "b",
        key="4242_nope",
    )
    assert bad.returncode == 3
    second = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families((cli.cwd / "m.prom").read_text())
        for s in family.samples
    }
    assert second[("offboard_last_success_timestamp_seconds", ())] == success
    assert second[("offboard_job_exit_code", (("job", "l"),))] == 3
    assert not list(cli.cwd.glob(".m.prom*"))


def test_jobs_folder_runs_each_job_once_and_resumes_the_interrupted_one(cli, sandbox):
    """A jobs/ folder: a done job is skipped, an interrupted one is resumed, a new one runs;
    the next run skips all three; no pair is ever revoked twice."""
    users = USERS + [
        {"id": 300 + i, "email": f"q{i}@t.example", "roles": {10: "Users"}} for i in range(3)
    ]
    sb = sandbox(world(users=users, faults={"latency": 0.1}))
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "a-done.yaml").write_text("users: [{account: 10, user: 300}]\n")
    env = {"GCORE_BASE_URL": sb.url}
    first = cli("run", "jobs", env=env)
    assert first.returncode == 0, first.stderr
    (jobs / "b-cut.csv").write_text(many(24))
    (jobs / "b-cut.yaml").write_text("input: b-cut.csv\nrate: 100\nconcurrency: 2\n")
    process = start(cli, "run", "jobs", "--base-url", sb.url)
    state = jobs / ".offboard-state.json"
    wait_for(lambda: state.exists() and "b-cut.yaml" in state.read_text())
    b_dir = Path(cli.cwd, json.loads(state.read_text())["jobs"]["b-cut.yaml"]["report_dir"])
    wait_for(lambda: len(journal_lines(b_dir)) >= 5)
    process.kill()
    process.communicate(timeout=10)
    (jobs / "c-new.yaml").write_text(
        "users: [{account: 10, user: 301}, {account: 10, user: 302}]\n"
    )
    second = cli("run", "jobs", env=env)
    assert second.returncode == 0, second.stderr
    assert "a-done.yaml: skipped: finished" in second.stderr
    recorded = json.loads(state.read_text())["jobs"]
    assert {name: entry["status"] for name, entry in recorded.items()} == {
        "a-done.yaml": "finished",
        "b-cut.yaml": "finished",
        "c-new.yaml": "finished",
    }
    assert recorded["b-cut.yaml"]["report_dir"] == str(b_dir.relative_to(cli.cwd))
    assert len(results(b_dir)) == 24
    before = len(sb.requests())
    third = cli("run", "jobs", env=env)
    assert third.returncode == 0 and third.stderr.count("skipped: finished") == 3
    assert len(sb.requests()) == before
    deletes = applied_deletes(sb)
    assert len(deletes) == 27 and max(deletes.values()) == 1


def test_jobs_folder_exit_code_is_the_worst_and_sandbox_jobs_are_left_alone(cli, sandbox):
    """A refused job (2) and a fine one (0) give 2; a sandbox job never reaches a real URL."""
    sb = sandbox()
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "ok.yaml").write_text("users: [{account: 10, user: 101}]\n")
    (jobs / "typo.yaml").write_text("users: [{account: 10, user: 102}]\nrat: 3\n")
    (jobs / "demo.yaml").write_text(
        "users: [{account: 10, user: 105}]\nsandbox: " + json.dumps(WORLD) + "\n"
    )
    done = cli("run", "jobs", env={"GCORE_BASE_URL": sb.url})
    assert done.returncode == 2
    assert "unknown key 'rat'" in done.stderr and "demo.yaml: not run: a sandbox job" in done.stderr
    assert not sb.has_access(10, 101) and sb.has_access(10, 105)
