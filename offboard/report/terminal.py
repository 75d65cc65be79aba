"""What a person sees on the terminal: progress while running (TTY only), a table at the end.

rich is imported only to draw the bar or the table: a run with -q or --log-format json
never loads it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..core.models import Outcome, Result
from ..core.sinks import RowSink
from ..core.words import pair_words

if TYPE_CHECKING:
    from .summary import Totals


@dataclass(frozen=True, slots=True)
class _Bar:
    """The progress bar as a row sink (core/sinks.py): each settled row advances it."""

    advance: Callable[[Result], None]

    def settled(self, result: Result) -> None:
        self.advance(result)


@contextmanager
def progress(total: int, stream: TextIO = sys.stderr, enabled: bool = True) -> Iterator[RowSink]:
    """A row sink that counts settled rows; draws a bar only when `stream` is a terminal."""
    if not enabled or not stream.isatty() or total == 0:
        yield _Bar(lambda result: None)
        return
    from .progress_bar import progress_bar

    with progress_bar(total, stream) as advance:
        yield _Bar(advance)


def print_summary(
    totals: Totals,
    directory: Path,
    exit_code: int,
    aborted: str,
    logins: Sequence[str] = (),
    stream: TextIO = sys.stdout,
    title: str = "",
    first: str = "",
) -> None:
    """The outcome table (titled with its SOURCE: a folder run prints one per job), the rows
    that need a person, the leavers still signing in, the report's place, and why the run
    stopped (if it did)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # a title as text: a path may hold [brackets]

    counts = totals.counts
    console = Console(file=stream, highlight=False, soft_wrap=True)
    if first:  # why every row means every account: before anything else
        console.print(first, markup=False)
    table = Table(
        box=box.SIMPLE if stream.isatty() else box.ASCII,
        show_footer=True,
        title=Text(title) if title else None,
        title_justify="left",
    )
    table.add_column("outcome", footer="total")
    table.add_column("rows", justify="right", footer=str(sum(counts.values())))
    table.add_column("needs a person")
    for outcome in Outcome:
        if counts.get(outcome, 0):
            table.add_row(str(outcome), str(counts[outcome]), "" if outcome.settled else "yes")
    console.print(table)
    for record in totals.needing_a_person:
        who = pair_words(record["account"], record["user"], record.get("account_name"))
        message = record["message"]
        # A message that already starts "row 3: ..." (a YAML row that is not a mapping) keeps
        # the line from saying the row twice.
        message = message.removeprefix(f"row {record['row']}: ")
        console.print(
            f"  row {record['row']}: {record['outcome']}{f' ({who})' if who else ''}: {message}",
            markup=False,
        )
    more = sum(n for o, n in counts.items() if not Outcome(o).settled) - len(
        totals.needing_a_person
    )
    if more > 0:
        console.print(
            f"  ... and {more} more rows that need a person: see {directory}", markup=False
        )
    for line in logins:
        console.print(line, markup=False)
    if aborted:
        console.print(f"Run aborted: {aborted}. Rows not sent are marked not_attempted.")
    console.print(f"Report: {directory}/results.csv  (exit code {exit_code})", markup=False)
