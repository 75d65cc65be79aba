"""Start-up cost: what `--help` and a run with nothing to do import, counted, never timed."""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import offboard.job.run
from offboard.core.job import Job, Seams
from offboard.core.models import Mode
from offboard.job.run import run_one
from offboard.report.summary import who
from offboard.source.read import read_source

# The CLI in a fresh interpreter: argv from the first argument, the help text swallowed;
# prints the exit code and every module then loaded.
PROBE = """
import contextlib, io, json, sys
sys.argv = ["offboard", *json.loads(sys.argv[1])]
from offboard.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""
# Each costs more CPU to import than the whole of `offboard --help`.
HEAVY = {
    "httpx",
    "httpcore",
    "anyio",
    "rich",
    "jinja2",
    "tenacity",
    "uvicorn",
    "yaml",
    "prometheus_client",
}
# What only a run that sends (or draws) needs; a run without rows still writes report.html.
SENDING = {"httpx", "httpcore", "anyio", "tenacity", "rich"}


def probe(args: list[str], cwd: Path) -> dict[str, Any]:
    """Run the CLI with `args` in a new interpreter: its exit code and every module loaded."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "OFFBOARD_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        env={**environ, "GCORE_API_KEY": "x"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout, done.stderr
    probed: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return probed


def loaded_by(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    """Run the CLI with `args` in a new interpreter: its exit code and top-level packages."""
    probed = probe(args, cwd)
    return probed["exit"], {name.partition(".")[0] for name in probed["modules"]}


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["plan"], ["restore"], ["sandbox"]],
    ids=lambda c: " ".join(c) or "offboard",
)
def test_help_imports_no_heavy_package(command, tmp_path):
    """`offboard [COMMAND] --help` loads click and offboard's small modules, nothing heavy."""
    code, packages = loaded_by([*command, "--help"], tmp_path)
    assert code == 0
    assert not packages & HEAVY


def test_the_top_help_imports_no_job(tmp_path):
    """`offboard --help` does not build the Job's types (core/job.py, core/models.py: their
    dataclasses and enums cost about a sixth of the help's CPU); a command imports them."""
    loaded = set(probe(["--help"], tmp_path)["modules"])
    assert not {"offboard.core.job", "offboard.core.models"} & loaded


@pytest.mark.parametrize("command", ["run", "plan"])
def test_run_without_rows_imports_nothing_to_send(command, tmp_path):
    """A CSV with only its header: exit 0, the whole report, no HTTP client or event loop."""
    (tmp_path / "empty.csv").write_text("account,user\n")
    code, packages = loaded_by([command, "empty.csv", "--report-dir", "r", "-q"], tmp_path)
    assert code == 0
    assert not packages & SENDING
    assert {"summary.json", "report.html", "summary.txt", "results.csv", "missing.csv"} <= {
        p.name for p in (tmp_path / "r").iterdir()
    }


@pytest.mark.parametrize("command", ["run", "plan"])
def test_run_without_rows_reports_as_the_session_would(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut for a batch without rows writes what the full session writes for it."""
    (tmp_path / "empty.csv").write_text("account,user\n")

    def unexpected(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.method} {request.url}")

    seams = Seams(environ={"GCORE_API_KEY": "x"}, transport=httpx.MockTransport(unexpected))

    def report(name: str) -> Path:
        job = Job(
            str(tmp_path / "empty.csv"),
            Mode(command),
            report_dir=str(tmp_path / name),
            verbosity=-1,
            run_id="0123456789ab",
        )
        assert run_one(job, seams).exit_code == 0
        return tmp_path / name

    shortcut = report("shortcut")
    # A batch that claims a row it does not have takes the full session, with the same rows.
    monkeypatch.setattr(
        offboard.job.run, "read_source", lambda *a: replace(read_source(*a), row_count=1)
    )
    session = report("session")
    files = report_files(shortcut)
    assert files == report_files(session)
    for path in files:
        assert stable(shortcut, path) == stable(session, path), path


def report_files(directory: Path) -> list[Path]:
    return sorted(
        p.relative_to(directory) for p in directory.rglob("*") if p.is_file() and p.name != "lock"
    )  # the lock holds the process ID


def stable(directory: Path, path: Path) -> str:
    """A report file's text with the times and the report directory's own name blanked."""
    text = (directory / path).read_text(encoding="utf-8").replace(str(directory), "DIR")
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)


def test_sniffio_is_installed():
    """httpcore imports sniffio on every lock it sets up: missing, each failed import searches
    the whole module path (a CPU cost per request), so it must be installed."""
    importlib.import_module("sniffio")


# Registered before main(), this exit handler runs after main's (atexit runs them last in,
# first out): it sees what the interpreter's last garbage collection will see.
FREEZE_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count()))
sys.argv = ["offboard", "--version"]
from offboard.cli.main import main
main()
"""


def test_the_heap_is_frozen_before_the_interpreters_last_collection(tmp_path):
    """`offboard` freezes what is alive before the interpreter exits (gc.freeze), so its
    last garbage collection does not walk every module and the user list (~0.1 s a run)."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen = int(done.stdout.rsplit("frozen at exit:", 1)[1])
    assert frozen > 1000  # every module's objects, not a handful


# Registered before main(), this exit handler runs after every one of main's: it prints the
# collector's young passes made before main() ran and in all.
GC_PROBE = """
import atexit, gc, json, sys
sys.argv = ["offboard", *json.loads(sys.argv[1])]
from offboard.cli.main import main
before = gc.get_stats()[0]["collections"]
atexit.register(lambda: print("young passes:", before, gc.get_stats()[0]["collections"]))
main()
"""


def test_a_command_loads_its_modules_without_young_collections(tmp_path):
    """From main() on, the collector's young generation waits for thousands of new objects,
    not 700: loading a run's modules (a run without rows: about a dozen passes at 700) makes
    no more than a couple, and none of what they make is garbage."""
    (tmp_path / "empty.csv").write_text("account,user\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "OFFBOARD_"))}
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE, json.dumps(["run", "empty.csv", "-q"])],
        cwd=tmp_path,
        env={**environ, "GCORE_API_KEY": "x"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.rsplit("young passes:", 1)[1].split())
    assert after - before <= 2


def test_the_audit_record_names_the_host_as_the_socket_module_does():
    """summary.json's run_by takes the host's name from platform, the same as socket's."""
    assert who().endswith("@" + socket.gethostname())
