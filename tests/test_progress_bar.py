"""The progress bar fits the terminal: bar, n/N, rate and time left always on show."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from rich.cells import cell_len

from offboard.core.models import Outcome, Result, Row
from offboard.report.progress_bar import progress_bar

from .conftest import KEY, Cli
from .helpers import drain

# Six outcomes at once, the case that pushed the bar off an 80-column line (issue 19).
SETTLED = (
    [Outcome.REVOKED] * 3
    + [Outcome.MISSING] * 2
    + [Outcome.TOKEN_BLOCKED, Outcome.FORBIDDEN, Outcome.DUPLICATE, Outcome.INVALID]
)
# Where rich moves the cursor back to redraw the display: the start of each frame.
REDRAW = re.compile(r"\r(?:\x1b\[2K\x1b\[1A)*\x1b\[2K")
STYLE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIME_LEFT = re.compile(r"(\d+:\d\d:\d\d|-:--:--) left")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def frames(raw: str) -> list[list[str]]:
    """Each frame the display drew, as its lines of plain text."""
    return [
        [line for line in STYLE.sub("", frame).replace("\r", "").split("\n") if line]
        for frame in REDRAW.split(raw)
    ]


def assert_fits(raw: str, width: int, done: int, total: int, counts: dict[str, int]) -> None:
    drawn = [frame for frame in frames(raw) if frame]
    assert drawn, raw
    for frame in drawn:
        assert all(cell_len(line) <= width for line in frame), (width, frame)
    head, *rest = drawn[-1]
    assert head.startswith("offboarding ") and "━" in head, head
    assert f"{done}/{total}" in head and "rows/s" in head and TIME_LEFT.search(head), head
    shown = "  ".join(rest)
    for outcome, n in counts.items():
        assert f"{outcome} {n}" in shown, (outcome, drawn[-1])


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_bar_and_six_counts_fit_the_terminal(monkeypatch, width):
    """At 60, 80 and 120 columns the last frame keeps the bar, n/N, rate and time left on
    one line, and every outcome count whole below it; no line is wider than the terminal."""
    for name in ("TTY_INTERACTIVE", "TTY_COMPATIBLE", "NO_COLOR", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("TERM", "xterm")
    stream = _Terminal()
    with progress_bar(371, stream) as advance:
        for number, outcome in enumerate(SETTLED, start=2):
            advance(Result(Row(number, "10", str(number)), outcome))
    counts = {
        "revoked": 3,
        "missing": 2,
        "token_blocked": 1,
        "forbidden": 1,
        "duplicate": 1,
        "invalid": 1,
    }
    assert_fits(stream.getvalue(), width, len(SETTLED), 371, counts)


def on_a_terminal(cli: Cli, args: list[str], width: int) -> str:
    """Run the CLI with stderr on a pseudo-terminal `width` columns wide; what it drew."""
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, width, 0, 0))
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "LINES", "TTY_INTERACTIVE", "TTY_COMPATIBLE")
        and not k.startswith("GCORE_")
    }
    environ.update({"GCORE_API_KEY": KEY, "TERM": "xterm"})
    process = subprocess.Popen(
        [sys.executable, "-m", "offboard", *args],
        cwd=cli.cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    seen = drain(main)
    assert process.wait(timeout=60) == 1
    # The last frame is drawn once more as the display stops, then erased (transient).
    return seen.decode(errors="replace").rsplit("\x1b[?25h", 1)[0]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_real_cli_bar_fits_a_pty_of_that_width(cli, sandbox, width):
    """`offboard run` on a pty of 60, 80 and 120 columns with six outcomes: the bar, n/N,
    rate and time left stay visible and the counts are whole, no line too wide."""
    sb = sandbox()
    cli.write(
        "l.csv",
        "account,user\n10,101\n10,102\n10,103\n20,102\n30,104\nACME,105\n10,101\n10,105\n10,106\n",
    )
    raw = on_a_terminal(
        cli,
        ["run", "l.csv", "--base-url", sb.url, "--rate", "20", "--yes", "--report-dir", "o"],
        width,
    )
    counts = {
        "revoked": 4,
        "missing": 1,
        "token_blocked": 1,
        "forbidden": 1,
        "invalid": 1,
        "duplicate": 1,
    }
    assert_fits(raw, width, 9, 9, counts)
