"""The progress bar drawn on a terminal while the rows settle (terminal.py decides when)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

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
from rich.text import Text

from .models import Result

if TYPE_CHECKING:
    from .execute import OnResult


@contextmanager
def progress_bar(total: int, stream: TextIO) -> Iterator[OnResult]:
    """A bar of `total` rows on `stream`, gone when the run ends; yields the callback that
    counts a settled row."""
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
