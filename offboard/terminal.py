"""What a person sees on the terminal: progress while running (TTY only), a table at the end."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .execute import OnResult
from .models import Outcome, Result
from .summary import Totals


@contextmanager
def progress(total: int, stream: TextIO = sys.stderr, enabled: bool = True
             ) -> Iterator[OnResult]:
    """A callback to count settled rows; draws a bar only when `stream` is a terminal."""
    if not enabled or not stream.isatty() or total == 0:
        yield lambda result: None
        return
    console = Console(file=stream)
    bar = Progress(TextColumn("offboarding"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
                   console=console, transient=True)
    task = bar.add_task("rows", total=total, counts="")
    seen: Counter[str] = Counter()

    def advance(result: Result) -> None:
        seen[result.outcome] += 1
        bar.update(task, advance=1, counts="  ".join(f"{o} {n}" for o, n in seen.items()))

    with bar:
        yield advance


class _RateColumn(ProgressColumn):
    """Rows per second, once rich has measured it."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} rows/s" if task.speed else "")


def print_summary(totals: Totals, directory: Path, exit_code: int,
                  aborted: str, logins: Sequence[str] = (), stream: TextIO = sys.stdout
                  ) -> None:
    """The outcome table, the rows that need a person, the leavers still signing in, the
    report's place, and why the run stopped (if it did)."""
    counts = totals.counts
    console = Console(file=stream, highlight=False, soft_wrap=True)
    table = Table(box=box.SIMPLE if stream.isatty() else box.ASCII, show_footer=True)
    table.add_column("outcome", footer="total")
    table.add_column("rows", justify="right", footer=str(sum(counts.values())))
    table.add_column("needs a person")
    for outcome in Outcome:
        if counts.get(outcome, 0):
            table.add_row(str(outcome), str(counts[outcome]), "" if outcome.settled else "yes")
    console.print(table)
    for record in totals.needing_a_person:
        who = f"account {record['account']} user {record['user']}"
        console.print(f"  row {record['row']}: {record['outcome']} ({who}): {record['message']}",
                      markup=False)
    more = sum(n for o, n in counts.items() if not Outcome(o).settled) - len(
        totals.needing_a_person)
    if more > 0:
        console.print(f"  ... and {more} more rows that need a person: see {directory}")
    for line in logins:
        console.print(line, markup=False)
    if aborted:
        console.print(f"Run aborted: {aborted}. Rows not sent are marked not_attempted.")
    console.print(f"Report: {directory}/results.csv  (exit code {exit_code})")
