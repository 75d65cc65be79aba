"""The command line's surfaces: usage errors in JSON mode, hints that work, the bare command,
the help, and the options every command shares (issue 19, items 5, 6 and 7)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from offboard.cli.main import cli as group
from offboard.core.defaults import DEFAULT_ACTIVE_DAYS, DEFAULT_MAX_REVOCATIONS, DEFAULTS

# The options every command that talks to the API takes, with one definition each.
COMMON = (
    "--base-url",
    "--api-key-file",
    "--rate",
    "--concurrency",
    "--max-attempts",
    "--timeout",
    "--log-format",
    "--verbose",
    "--quiet",
    "--metrics-file",
)


def offboard(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "OFFBOARD_"))}
    return subprocess.run(
        [sys.executable, "-m", "offboard", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


USAGE_ERRORS = {
    "bad value": (["run", "l.csv", "--rate", "abc", "--log-format", "json"], "--rate"),
    "unknown option": (["run", "l.csv", "--log-format", "json", "--bogus"], "--bogus"),
    "extra argument": (["plan", "l.csv", "extra", "--log-format=json"], "extra"),
    "before the format": (["run", "--bogus", "l.csv", "--log-format", "json"], "--bogus"),
    "restore": (["restore", "r", "--rate", "abc", "--log-format", "json"], "--rate"),
    "dry run": (["run", "l.csv", "--dry-run", "--log-format", "json"], "offboard plan"),
}


@pytest.mark.parametrize(("args", "named"), USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_in_json_mode_are_one_json_line(args, named):
    """--log-format json (anywhere on the line): a usage error is one JSON error event on
    stderr, nothing on stdout, exit 2."""
    done = offboard(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    event = json.loads(lines[0])
    assert event["event"] == "error" and event["exit_code"] == 2
    assert named in event["message"]


def test_usage_errors_in_text_mode_stay_one_plain_line():
    """Without --log-format json the same error is one `offboard: ...` line."""
    done = offboard("run", "l.csv", "--rate", "abc")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("offboard: ") and len(done.stderr.splitlines()) == 1
    assert "--rate" in done.stderr


def test_dry_run_points_to_plan():
    """`run --dry-run` is one line saying to use `offboard plan`, exit 2, not "no such option"."""
    done = offboard("run", "l.csv", "--dry-run")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "use `offboard plan`" in done.stderr and "No such option" not in done.stderr


def test_bare_offboard_prints_the_help_and_exits_0():
    """`offboard` alone shows the help on stdout (as git and pip do), exit 0, no error."""
    done = offboard()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("Usage: offboard") and "Commands:" in done.stdout


def test_the_command_list_says_each_command_in_a_whole_sentence():
    """`offboard --help` lists each command with a whole sentence, never cut with `...`."""
    done = offboard("--help")
    listed = done.stdout.split("Commands:", 1)[1].strip().splitlines()
    assert sorted(line.split()[0] for line in listed) == ["plan", "restore", "run", "sandbox"]
    for line in listed:
        assert line.rstrip().endswith(".") and "..." not in line, line


@pytest.mark.parametrize("name", ["plan", "restore"])
def test_every_command_takes_the_common_options_defined_once(name):
    """plan and restore take each common option exactly as run does (name, type, default,
    help): one definition, applied to every command."""

    def described(command_name: str) -> dict[str, dict[str, object]]:
        return {
            opt: param.to_info_dict()
            for param in group.commands[command_name].params
            for opt in param.opts
        }

    run, other = described("run"), described(name)
    for flag in COMMON:
        assert flag in other, (name, flag)
        assert other[flag] == run[flag], (name, flag)


@pytest.mark.parametrize("name", ["run", "plan", "restore"])
def test_help_shows_the_defaults_from_where_they_live(name):
    """Each command's help shows the numeric defaults, read from settings.DEFAULTS."""
    text = " ".join(offboard(name, "--help").stdout.split())
    for flag, key in [
        ("--rate", "rate"),
        ("--concurrency", "concurrency"),
        ("--max-attempts", "max_attempts"),
        ("--timeout", "timeout"),
    ]:
        value = DEFAULTS[key]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert re.search(rf"{flag} \S+ .*?\[default: {re.escape(shown)}\]", text), (flag, text)
    assert "[default: text]" in text  # --log-format
    if name != "restore":
        assert re.search(rf"--max-revocations .*?\[default: {DEFAULT_MAX_REVOCATIONS}[;\]]", text)
        assert re.search(rf"--active-days .*?\[default: {DEFAULT_ACTIVE_DAYS}[;\]]", text)


def test_a_default_shown_is_still_not_given():
    """A shown default is not a value the person gave: the job file's value still wins."""
    command = group.commands["run"]
    quiet = command.make_context("run", ["l.csv"])
    assert quiet.params["rate"] is None and quiet.params["max_revocations"] is None
    given = command.make_context("run", ["l.csv", "--rate", "7"])
    assert given.params["rate"] == 7.0
    restore = group.commands["restore"].make_context("restore", ["r"])
    assert restore.params["rate"] is None and restore.params["log_format"] == "text"


def test_completion_script_is_offered_by_click():
    """`_OFFBOARD_COMPLETE=bash_source offboard` prints a bash completion script (README)."""
    environ = {**os.environ, "_OFFBOARD_COMPLETE": "bash_source"}
    done = subprocess.run(
        [sys.executable, "-c", "from offboard.cli.main import main; main()"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and "_offboard_completion" in done.stdout, done.stderr


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_plan_from_stdin_offers_no_command_that_cannot_work(cli, sandbox, form):
    """`plan -`: no "offboard run .../plan.json" (such a run always refuses: stdin cannot be
    checked), but one line saying why there is none and what to do; the pages offer none."""
    sb = sandbox()
    args = ["plan", "-", "--base-url", sb.url, "--report-dir", "p"]
    done = cli(
        *args, *(["--log-format", "json"] if form == "json" else []), stdin="account,user\n10,101\n"
    )
    assert done.returncode == 0, done.stderr
    assert "plan.json" not in done.stdout + done.stderr
    said = (
        [
            json.loads(line)["message"]
            for line in done.stderr.splitlines()
            if json.loads(line)["event"] == "warning"
        ]
        if form == "json"
        else done.stderr.splitlines()
    )
    assert [line for line in said if "made from stdin" in line and "save the rows" in line]
    page = (cli.cwd / "p" / "summary.txt").read_text(encoding="utf-8")
    assert "To run exactly this plan" not in page and "plan.json" not in page
    ran = cli("run", str(cli.cwd / "p" / "plan.json"), "--base-url", sb.url)
    assert ran.returncode == 2 and "made from stdin" in ran.stderr  # why no command is offered
