"""benchmarks/run.py's `startup` section (issue 14): the CPU of commands that do little.

`offboard --help` and a run with nothing to do (a CSV with a header and no rows: exit 0, the
report written) must each cost under 0.15 s of CPU, the whole process (interpreter start
included), from wait4. Beside them, for scale: a bare interpreter, and importing the SDK.
Each command runs RUNS times; the table shows the least, the median and the most.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Protocol

import harness as h
from harness import fmt, say, table, verdict

RUNS = 7
LIMIT = 0.15  # seconds of CPU


class Bench(Protocol):
    env: dict[str, str]
    results: dict[str, Any]
    sdk_missing: str
    sdk_python: str

    def path(self, name: str) -> Path: ...


def section(bench: Bench, runs: int = RUNS) -> None:
    say(
        f"== Startup: CPU of commands that do little, {runs} runs each (user + system, from "
        "wait4, interpreter start included) =="
    )
    empty = bench.path("empty.csv")
    empty.write_text("account,user\n", encoding="utf-8")
    commands: list[tuple[str, list[str], bool]] = [
        ("python -c pass (the interpreter alone)", [h.PYTHON, "-c", "pass"], False),
        # What every command pays before a line of offboard runs: the CLI library, and the
        # template engine every run (even with no rows) needs to write report.html.
        ("python -c 'import click'", [h.PYTHON, "-c", "import click"], False),
        ("python -c 'import click, jinja2'", [h.PYTHON, "-c", "import click, jinja2"], False),
        ("offboard --help", [h.PYTHON, "-m", "offboard", "--help"], True),
        ("offboard run --help", [h.PYTHON, "-m", "offboard", "run", "--help"], True),
    ]
    for command in ("run", "plan"):
        commands.append(
            (
                f"offboard {command} (a CSV with no rows) -q",
                [h.PYTHON, "-m", "offboard", command, str(empty), "-q", "--report-dir", "{report}"],
                True,
            )
        )
    if not bench.sdk_missing:
        commands.append(
            (
                "python -c 'import gcore' (the SDK's import)",
                [bench.sdk_python, "-c", "import gcore"],
                False,
            )
        )
    lines, figures = [], {}
    for label, argv, checked in commands:
        seconds: list[float] = []
        for _ in range(runs):
            report = str(bench.path("report"))
            m = h.measure(label, [a.replace("{report}", report) for a in argv], bench.env, h.ROOT)
            if m.returncode != 0:
                seconds = []
                lines.append([label, "error", h.failure(m), "", ""])
                break
            seconds.append(m.cpu)
        if not seconds:
            continue
        least, median, most = min(seconds), statistics.median(seconds), max(seconds)
        figures[label] = {"min": least, "median": median, "max": most, "checked": checked}
        lines.append(
            [
                label,
                fmt(least, 3),
                fmt(median, 3),
                fmt(most, 3),
                verdict(median < LIMIT) if checked else "",
            ]
        )
    table(["command", "CPU s min", "median", "max", f"< {LIMIT} s (median)"], lines)
    say(
        "The first run of a run command after its template cache is cleared also compiles "
        "report.html's templates (about 0.06 s more); every later one loads them compiled."
    )
    bench.results["startup"] = figures
    say()
