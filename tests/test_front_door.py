"""The front door: help, python -m, the jobs/ folder, the README, the demo."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from offboard.cli.main import cli
from offboard.sandbox import DEMO_WORLD_PATH, load_world
from offboard.source.read import read_source

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [[], ["run"], ["sandbox"]])
def test_every_command_has_help_with_an_example(command):
    """`-h` works on every command and shows an Example block."""
    done = subprocess.run(
        [sys.executable, "-m", "offboard", *command, "-h"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "Example:" in done.stdout


@pytest.mark.parametrize("job", sorted((ROOT / "jobs").glob("*.y*ml")), ids=lambda p: p.name)
def test_every_job_file_loads(job):
    """Each job in jobs/ reads as a batch, and its sandbox world (if any) is valid."""
    batch = read_source(str(job))
    assert batch.rows
    if batch.sandbox is not None:
        load_world(batch.sandbox, origin=str(job))


def test_demo_job_world_is_the_built_in_demo_world():
    """jobs/demo.yaml's sandbox: section and the packaged demo world stay the same."""
    job = yaml.safe_load((ROOT / "jobs" / "demo.yaml").read_text())
    assert job["sandbox"] == yaml.safe_load(Path(DEMO_WORLD_PATH).read_text())


def test_every_cli_option_is_in_the_readme():
    """Each option of each command is documented in README.md."""
    readme = (ROOT / "README.md").read_text()
    for command in [cli, *cli.commands.values()]:
        for param in command.params:
            for name in param.opts:
                if name.startswith("-"):
                    assert re.search(rf"`{re.escape(name)}[ `]", readme), name


def test_readme_quick_start_commands_are_the_ones_ci_runs():
    """The README's test command is what .ci/run runs."""
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/offboard run jobs/demo.yaml --sandbox" in readme
    assert ".venv/bin/python -m pytest" in readme
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


LINTERS = (".venv/bin/ruff check", ".venv/bin/ruff format --check", ".venv/bin/mypy")


def test_ci_runs_the_linters_before_the_tests_from_the_test_extra():
    """.ci/run runs ruff check, ruff format --check and mypy before pytest, the README shows
    the same commands, the test extra installs them, and mypy's scope includes the tests."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in LINTERS:
        assert re.search(rf"^{re.escape(command)}$", script, re.MULTILINE), command
        assert script.index(command) < script.index("-m pytest"), command
        assert command in readme, command
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = config["project"]["optional-dependencies"]["test"]
    installed = {re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower() for spec in extra}
    assert {"ruff", "mypy", "types-pyyaml"} <= installed
    mypy = config["tool"]["mypy"]
    assert mypy["strict"] is True and {"offboard", "tests"} <= set(mypy["files"])
    # Tests may leave test functions unannotated, but are never skipped by the checker.
    assert not any(o.get("ignore_errors") for o in mypy.get("overrides", []))


def test_demo_on_the_sandbox_shows_every_main_outcome(cli):
    """`offboard run jobs/demo.yaml --sandbox` needs no key and shows each main outcome."""
    done = cli(
        "run", str(ROOT / "jobs" / "demo.yaml"), "--sandbox", "--report-dir", "demo", key=None
    )
    assert done.returncode == 1, done.stderr
    import csv

    with (cli.cwd / "demo" / "results.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    seen = {r["outcome"] for r in rows}
    assert {"revoked", "token_blocked", "missing", "forbidden", "invalid", "duplicate"} <= seen
    assert any(r["outcome"] == "revoked" and int(r["attempts"]) > 1 for r in rows)
    assert "sandbox_4f1c2a9e0b7d" not in done.stdout + done.stderr


def test_sandbox_command_serves_until_stopped(tmp_path):
    """`offboard sandbox --port 0` prints its URL, answers, and stops on SIGTERM."""
    import httpx

    process = subprocess.Popen(
        [sys.executable, "-m", "offboard", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        answer = httpx.get(
            f"{url.group(0)}/iam/clients/me",
            headers={"Authorization": "APIKey sandbox_4f1c2a9e0b7d"},
        )
        assert answer.status_code == 200 and answer.json()["currentUser"] == 1
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=10)
    assert "Traceback" not in err
