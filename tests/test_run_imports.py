"""What a plain CSV run imports before its first request: counted, never timed.

Everything imported before the first connection is on the path to the first DELETE: a module
the run does not need (the YAML parser, the folder inbox, sqlite3, the sandbox, the report's
template engine) must not come back through a later top-level import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import KEY

# The CLI in a fresh interpreter; an audit hook notes each module the main thread imports
# (a prefetch on a thread of its own is free to load the report's modules while the run
# waits on the network) and, at the first socket connection, prints them.
PROBE = """
import json, sys, threading
main_thread = threading.main_thread()
seen = []
def hook(event, args):
    if event == "import" and threading.current_thread() is main_thread:
        seen.append(args[0])
    elif event == "socket.connect" and not seen[-1:] == ["<connected>"]:
        print(json.dumps(sorted(set(seen))), flush=True)
        seen.append("<connected>")
sys.addaudithook(hook)
sys.argv = ["offboard", *json.loads(sys.argv[1])]
from offboard.cli.main import main
main()
"""
# Not needed by a run from a CSV file before its first request (each was, once, or is by
# another path: a YAML job, a jobs folder, a resume's record, --sandbox, the finish).
UNNEEDED = {
    "yaml",
    "sqlite3",
    "jinja2",
    "markupsafe",
    "rich",
    "uvicorn",
    "starlette",
    "offboard.sandbox",
    "offboard.inbox.folder",
    "offboard.inbox.run",
    "offboard.report.pages",
    "offboard.report.lists",
    "offboard.report.people",
    "offboard.restore",
}


def imported_before_the_first_request(args: list[str], cwd: Path) -> set[str]:
    """Run the CLI with `args` in a new interpreter: the modules its main thread imported
    before it first connected to a server."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "OFFBOARD_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        env={**environ, "GCORE_API_KEY": KEY},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[0])
    return set(modules)


def unneeded(modules: set[str]) -> set[str]:
    """The modules of `modules` that are, or are inside, an UNNEEDED one."""
    return {m for m in modules if any(m == u or m.startswith(u + ".") for u in UNNEEDED)}


def test_a_csv_run_imports_only_what_it_sends_with(tmp_path: Path, sandbox: Any) -> None:
    """A run from a CSV has loaded no YAML, folder inbox, sqlite3, sandbox or report pages
    when it first connects; the HTTP client it sends with is there."""
    sb = sandbox()
    (tmp_path / "leavers.csv").write_text("account,user\n10,101\n10,106\n", encoding="utf-8")
    args = ["run", "leavers.csv", "--base-url", sb.url, "--report-dir", "out", "-q"]
    modules = imported_before_the_first_request(args, tmp_path)
    assert {"httpcore", "anyio", "offboard.http.api"} <= modules  # the probe saw the run's path
    assert unneeded(modules) == set()
