"""A run killed before its end (issue 19, item 3): the same command again says so in one
line with the exact `--resume` command, exits 2 and sends nothing; `--new-run` starts afresh.

"Unfinished" is what --resume can continue: a report directory whose run.json (written
before the first request) comes from a `run` of the same SOURCE (same sha256), and that
holds no summary.json (written once every row is in the journal).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from offboard.core.locks import exclusive
from offboard.sandbox import Sandbox

from .conftest import Cli, world
from .test_cron_e2e import USERS, journal_lines, many, start, wait_for
from .test_run_e2e import results

ROWS = 12


def _killed(cli: Cli, sb: Sandbox, *args: str) -> Path:
    """Start `run l.csv` against sb, kill -9 it once two rows are journaled; its directory."""
    cli.write("l.csv", many(ROWS))
    process = start(cli, "run", "l.csv", "--base-url", sb.url, "--concurrency", "1", *args)

    def directory() -> Path | None:
        found = (
            sorted((cli.cwd / "reports").glob("l-*"))
            if "--report-dir" not in args
            else [cli.cwd / args[args.index("--report-dir") + 1]]
        )
        return found[0] if found and found[0].is_dir() else None

    def two_journaled() -> bool:
        found = directory()
        return found is not None and len(journal_lines(found)) >= 2

    wait_for(two_journaled)
    process.kill()
    process.communicate(timeout=10)
    found = directory()
    assert found is not None and not (found / "summary.json").exists()
    return found


def _the_line(done: subprocess.CompletedProcess[str], *, code: int = 2) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    return lines[0]


def _resume_command(line: str) -> list[str]:
    """The `offboard run ... --resume DIR` command a line offers, as shell words."""
    command = line.split("to continue it: ", 1)[1].split("; ", 1)[0]
    words = shlex.split(command)
    assert words[:2] == ["offboard", "run"] and "--resume" in words, line
    return words


def test_the_same_command_after_a_kill_names_the_resume_command_and_sends_nothing(cli, sandbox):
    """kill -9, then the same `run --report-dir cut`: exit 2, one line naming cut and the
    exact --resume command, no request; that command, pasted, finishes the run."""
    sb = sandbox(world(users=USERS, faults={"latency": 0.1}))
    directory = _killed(cli, sb, "--report-dir", "cut")
    idle = sandbox(world(users=USERS))  # sees every request a refused run might send
    again = cli("run", "l.csv", "--base-url", idle.url, "--concurrency", "1", "--report-dir", "cut")
    line = _the_line(again)
    assert "report directory cut" in line and "unfinished run" in line
    words = _resume_command(line)
    assert words == ["offboard", "run", "l.csv", "--resume", "cut"]
    assert idle.requests() == []
    resumed = cli(*words[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert len(results(directory)) == ROWS
    assert not any(sb.has_access(10, 200 + i) for i in range(ROWS))


def test_without_report_dir_an_unfinished_run_blocks_a_fresh_one_until_new_run(cli, sandbox):
    """kill -9 a run into the default reports folder; `run l.csv` again: exit 2 naming that
    directory and the --resume command (under -q and --log-format json too), nothing sent;
    `plan` is not blocked; `--new-run` goes ahead; once the newest run of the SOURCE has
    finished, a plain `run` goes ahead again."""
    sb = sandbox(world(users=USERS, faults={"latency": 0.1}))
    directory = _killed(cli, sb).relative_to(cli.cwd)
    idle = sandbox(world(users=USERS))
    again = cli("run", "l.csv", "--base-url", idle.url)
    line = _the_line(again)
    assert _resume_command(line) == ["offboard", "run", "l.csv", "--resume", str(directory)]
    assert "--new-run" in line
    assert _the_line(cli("run", "l.csv", "--base-url", idle.url, "-q")) == line
    as_json = json.loads(
        _the_line(cli("run", "l.csv", "--base-url", idle.url, "--log-format", "json"))
    )
    assert as_json["exit_code"] == 2 and as_json["message"] == line.removeprefix("offboard: ")
    assert idle.requests() == []
    plan = cli("plan", "l.csv", "--base-url", idle.url, "-q")
    assert plan.returncode == 0, plan.stderr
    fresh = cli("run", "l.csv", "--base-url", idle.url, "--new-run", "-q")
    assert fresh.returncode == 0, fresh.stderr
    assert not (directory / "summary.json").exists()  # the killed run is left as it was
    later = cli("run", "l.csv", "--base-url", idle.url, "-q")
    assert later.returncode == 0, later.stderr


def test_a_directory_a_live_run_holds_is_named_in_use_not_unfinished(cli, sandbox, tmp_path):
    """While a run holds the report directory's lock, the same command names the holder's
    PID (the directory is not unfinished: it is being written)."""
    sb = sandbox(world(users=USERS))
    cli.write("l.csv", many(2))
    assert cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "cut").returncode == 0
    (tmp_path / "cut" / "summary.json").unlink()  # what a kill leaves: no summary
    with exclusive(tmp_path / "cut" / ".offboard" / "lock", "test"):
        again = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "cut")
    line = _the_line(again)
    assert "in use by another offboard run" in line and "PID" in line


def test_new_run_and_resume_contradict_each_other(cli, sandbox):
    """`--new-run --resume DIR`: one usage line, exit 2."""
    cli.write("l.csv", many(1))
    line = _the_line(cli("run", "l.csv", "--new-run", "--resume", "x"))
    assert "--new-run" in line and "--resume" in line


# -- the finder, on directories made by hand ------------------------------------------------


def _report(
    root: Path, name: str, sha: str, *, command: str = "run", finished: bool = False
) -> Path:
    directory = root / name
    (directory / ".offboard").mkdir(parents=True)
    (directory / ".offboard" / "run.json").write_text(
        json.dumps({"command": command, "source": "l.csv", "source_sha256": sha})
    )
    if finished:
        (directory / "summary.json").write_text("{}")
    return directory


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        ([], None),
        ([("l-20261130T020000Z", "a", "run", False)], "l-20261130T020000Z"),
        ([("l-20261130T020000Z", "a", "run", True)], None),
        ([("l-20261130T020000Z", "b", "run", False)], None),  # another SOURCE (sha)
        ([("l-plan-20261130T020000Z", "a", "plan", False)], None),  # a plan never resumes
        (
            [("l-20261130T020000Z", "a", "run", False), ("l-20261130T030000Z", "a", "run", True)],
            None,
        ),  # the newest run of the SOURCE finished
        (
            [
                ("l-20261130T020000Z", "a", "run", True),
                ("l-20261130T020000Z-2", "a", "run", False),
                ("l-20261130T020000Z-10", "b", "run", True),
            ],
            "l-20261130T020000Z-2",
        ),
        ([("lx-20261130T020000Z", "a", "run", False)], None),  # another name
    ],
)
def test_the_newest_run_of_the_same_source_decides(tmp_path, made, expected):
    """newest_run + find_unfinished over a reports folder: only the newest `run` of the same
    sha256 counts, and only when it has no summary.json."""
    from offboard.job.unfinished import find_unfinished, newest_run

    for name, sha, command, finished in made:
        _report(tmp_path, name, sha, command=command, finished=finished)
    newest = newest_run(tmp_path, "l", "a")
    found = find_unfinished(newest, "a") if newest is not None else None
    assert (found.directory.name if found else None) == expected
