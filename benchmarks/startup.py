"""benchmarks/run.py's `startup` section (issue 14): the CPU of commands that do little.

`offboard --help` and a run with nothing to do (a CSV with a header and no rows: exit 0, the
report written) must each cost under 0.15 s of CPU, the whole process (interpreter start
included), from wait4. Beside them, for scale: a bare interpreter, and importing the SDK.
Each command runs RUNS times; the table shows the least, the median and the most.

The bar was set on 2026-12-05 (issue 14), when a run with nothing to do took 0.078 s here. A
second table runs that same command on that day's code (THEN, taken from git) and on this
tree's, alternating: what the machine does to the figure shows apart from what the code does.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path
from typing import Any, Protocol

import harness as h
from harness import fmt, say, table, verdict

RUNS = 7
LIMIT = 0.15  # seconds of CPU
THEN = "206f875"  # issue 14's code: the empty run measured 0.078 s of CPU on it, 2026-12-05


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
        # Without site-packages' start-up hooks: an editable install's import finder (pathlib,
        # importlib.util...) costs a bare `-c pass` more than the interpreter itself.
        ("python -S -c pass (no site-packages)", [h.PYTHON, "-S", "-c", "pass"], False),
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
    figures["then"] = then_and_now(bench, empty, runs)


def then_and_now(bench: Bench, empty: Path, runs: int) -> dict[str, float]:
    """The empty run on THEN's code and on this tree's, alternating, each from its own root
    (`python -m` puts the working directory first on the module path). {} when git cannot
    give THEN's tree (a shallow clone): the table says so."""
    then = bench.path("then")
    then.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(h.ROOT), "archive", THEN, "offboard"], capture_output=True
    )
    if archive.returncode != 0:
        say(f"(start-up then and now skipped: git has no {THEN} here)")
        return {}
    subprocess.run(["tar", "-x", "-C", str(then)], input=archive.stdout, check=True)
    roots = {"this tree": h.ROOT, f"{THEN} (2026-12-05: 0.078 s)": then}
    seconds: dict[str, list[float]] = {name: [] for name in roots}
    for turn in range(runs + 1):  # the first turn warms each tree's template cache: not kept
        for name, root in roots.items() if turn % 2 else reversed(roots.items()):
            argv = [h.PYTHON, "-m", "offboard", "run", str(empty), "-q"]
            m = h.measure(name, [*argv, "--report-dir", str(bench.path("report"))], bench.env, root)
            if m.returncode != 0:
                say(f"(start-up then and now: {name}: {h.failure(m)})")
                return {}
            if turn:
                seconds[name].append(m.cpu)
    say(
        f"A run with nothing to do, on this tree and on {THEN}'s code (when the bar was set), "
        f"alternating, {runs} runs each (CPU s):"
    )
    medians = {name: statistics.median(xs) for name, xs in seconds.items()}
    table(
        ["code", "CPU s min", "median", "max"],
        [[n, fmt(min(xs), 3), fmt(medians[n], 3), fmt(max(xs), 3)] for n, xs in seconds.items()],
    )
    now, before = medians.values()
    say(f"this tree / {THEN}'s code: {now / before:.2f}")
    say()
    return {"now": now, "then": before}
