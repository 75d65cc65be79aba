"""Smaller lies (issue 19, item 8): the cap refusal names the file, a YAML row that is not a
mapping says what a row must look like, a missing sandbox scenario is one line with its path,
and each summary table of a folder run names its job file.
"""

from __future__ import annotations

import subprocess
import sys

from offboard.plan.rows import parse
from offboard.source.read import read_source

from .conftest import world


def test_the_cap_refusal_names_the_file(cli, sandbox):
    """`run big.csv --max-revocations 1`: the one line starts with the file it refuses."""
    sb = sandbox()
    cli.write("big.csv", "account,user\n10,105\n10,106\n")
    done = cli("run", "big.csv", "--base-url", sb.url, "--max-revocations", "1")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("offboard: big.csv: the batch would revoke 2")
    assert not [r for r in sb.requests() if r.method == "DELETE"]


def test_the_cap_refusal_in_a_folder_names_the_job_once(cli, sandbox):
    """In a jobs folder the refused job's line names its file once, not twice."""
    sb = sandbox()
    (cli.cwd / "jobs").mkdir()
    cli.write(
        "jobs/capped.yaml",
        "users: [{account: 10, user: 105}, {account: 10, user: 106}]\nmax_revocations: 1\n",
    )
    done = cli("run", "jobs", "--base-url", sb.url, "-q")
    assert done.returncode == 2, done.stderr
    line = next(x for x in done.stderr.splitlines() if "cap" in x)
    assert line.startswith("offboard: jobs/capped.yaml: the batch would revoke 2"), line
    assert line.count("capped.yaml") == 1, line


def test_a_yaml_row_that_is_not_a_mapping_says_what_a_row_looks_like(tmp_path):
    """A YAML list of strings: each row's message shows the shape a row must have and what
    the row was instead, in words (a string, a number, a list), never a Python type name."""
    path = tmp_path / "r.yaml"
    path.write_text("- alice@example.com\n- 12\n- [1, 2]\n")
    messages = [parse(row) for row in read_source(str(path)).rows]
    assert messages == [
        "row 1: expected a mapping with account and user, like "
        "{account: 1000, user: alice@example.com}; got a string",
        "row 2: expected a mapping with account and user, like "
        "{account: 1000, user: alice@example.com}; got a number",
        "row 3: expected a mapping with account and user, like "
        "{account: 1000, user: alice@example.com}; got a list",
    ]


def test_a_missing_sandbox_scenario_is_one_line_with_its_path(tmp_path):
    """`offboard sandbox --scenario missing.yaml`: exit 2, one line, the path and the OS's
    reason (not `FileNotFoundError`)."""
    done = subprocess.run(
        [sys.executable, "-m", "offboard", "sandbox", "--port", "0", "--scenario", "missing.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "offboard: --scenario missing.yaml: cannot read: No such file or directory"
    ]
    assert done.stdout == ""


def test_each_summary_table_of_a_folder_run_names_its_job_file(cli, sandbox):
    """`run jobs/` (not a terminal): each job's table has a title naming its job file, so a
    reader of the cron mail knows which counts are whose."""
    sb = sandbox(world())
    (cli.cwd / "jobs").mkdir()
    cli.write("jobs/a.yaml", "users: [{account: 10, user: 105}]\n")
    cli.write("jobs/b.csv", "account,user\n10,106\n10,999\n")
    done = cli("run", "jobs", "--base-url", sb.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    titles = [i for i, line in enumerate(lines) if line.strip() in ("jobs/a.yaml", "jobs/b.csv")]
    assert [lines[i].strip() for i in titles] == ["jobs/a.yaml", "jobs/b.csv"], done.stdout
    for i in titles:  # the title sits right above its table
        assert lines[i + 1].startswith("+--"), done.stdout


def test_a_row_line_without_account_or_user_says_neither_none_nor_the_row_twice(cli, sandbox):
    """A YAML list of strings on the terminal and in -v lines: `row 1: invalid: expected ...`,
    never `(account None user None)` and never `row 1: ... row 1:`."""
    sb = sandbox()
    cli.write("s.yaml", "- alice@example.com\n")
    done = cli("plan", "s.yaml", "--base-url", sb.url, "-v")
    assert done.returncode == 1, done.stderr
    lines = [x for x in (done.stdout + done.stderr).splitlines() if "row 1:" in x]
    assert len(lines) == 2, lines  # the -v line and the summary's line
    for line in lines:
        assert "None" not in line and line.count("row 1") == 1, line
        assert line.strip().startswith("row 1: invalid: expected a mapping"), line
