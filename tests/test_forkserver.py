"""The fork server (tests/forkserver.py) runs a CLI call as a fresh `python -m offboard` would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import Cli, world
from .forkserver import ForkServer


def _both(tmp_path: Path, forks: ForkServer | None) -> tuple[Cli, Cli]:
    assert forks is not None, "OFFBOARD_TEST_SUBPROCESS is set: nothing to compare"
    fresh, forked = tmp_path / "fresh", tmp_path / "forked"
    fresh.mkdir()
    forked.mkdir()
    return Cli(fresh), Cli(forked, forks)


CALLS = {
    "help": ((["--help"],), {}),
    "usage error": ((["run", "--rate"],), {}),
    "no key": ((["run", "leavers.csv"],), {"key": None}),
    "stdin, env and cwd": (
        (["plan", "-", "--report-dir", "p", "--base-url", "http://127.0.0.1:9"],),
        {"stdin": "account,user\nx,1\n", "env": {"NO_COLOR": "1"}},
    ),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_a_forked_call_answers_as_a_fresh_interpreter_does(tmp_path, forks, call):
    """Same exit code, stdout and stderr (argv, stdin, environment and working directory
    reach the forked process), and the report lands in the call's own directory."""
    fresh, forked = _both(tmp_path, forks)
    (args,), options = CALLS[call]
    for cli in (fresh, forked):
        cli.write("leavers.csv", "account,user\n10,101\n")
    a, b = fresh(*args, **options), forked(*args, **options)  # type: ignore[arg-type]
    assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr)
    assert b.args == a.args
    made = sorted(p.name for p in fresh.cwd.iterdir())
    assert sorted(p.name for p in forked.cwd.iterdir()) == made


def test_a_forked_call_past_its_timeout_is_killed(tmp_path, forks, sandbox):
    """A call that outlasts its timeout raises TimeoutExpired, as subprocess.run does, and the
    next call still runs."""
    _, forked = _both(tmp_path, forks)
    sb = sandbox(world(faults={"latency": 30}))
    forked.write("l.csv", "account,user\n10,101\n")
    with pytest.raises(subprocess.TimeoutExpired):
        forked("run", "l.csv", "--base-url", sb.url, "--yes", timeout=2)
    assert forked("--help").returncode == 0
