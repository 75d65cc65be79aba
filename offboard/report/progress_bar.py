"""The progress bar drawn on a terminal while the rows settle (report/terminal.py decides when).

Its first line (label, bar, n/N, rate, time left) fits 60 columns: only the bar gives way.
The outcome counts go on the lines below, packed whole into the terminal's width, so six
or more of them never push the bar off its line (issue 19).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.progress import MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Column
from rich.text import Text

from ..core.models import Outcome, Result

if TYPE_CHECKING:
    from ..execute.workers import OnResult

BAR_WIDTH = 40  # rich's own default, at most; narrower terminals get a shorter bar
GAP = "  "  # between two outcome counts


@contextmanager
def progress_bar(total: int, stream: TextIO) -> Iterator[OnResult]:
    """A bar of `total` rows on `stream`, gone when the run ends; yields the callback that
    counts a settled row."""
    counts = _Counts()
    fixed = Column(no_wrap=True)
    bar = _Display(
        counts,
        TextColumn("offboarding", table_column=fixed),
        _BarColumn(),
        MofNCompleteColumn(table_column=fixed),
        _RateColumn(),
        _LeftColumn(),
        console=Console(file=stream),
        transient=True,
    )
    task = bar.add_task("rows", total=total)

    def advance(result: Result) -> None:
        counts.seen[result.outcome] += 1
        bar.update(task, advance=1)

    with bar:
        yield advance


class _Display(Progress):
    """rich's progress table, then the outcome counts on their own lines."""

    def __init__(
        self, counts: _Counts, *columns: ProgressColumn, console: Console, transient: bool
    ) -> None:
        self.counts = counts  # before rich's __init__, which may draw already
        super().__init__(*columns, console=console, transient=transient)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.counts.seen:
            yield self.counts


class _Counts:
    """`revoked 3  missing 2  ...` in the Outcome enum's order (stable while counts grow),
    wrapped between counts, never inside one."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        items = [f"{outcome} {self.seen[outcome]}" for outcome in Outcome if self.seen[outcome]]
        for line in pack(items, options.max_width):
            yield Text(line, no_wrap=True, overflow="ellipsis")


def pack(items: list[str], width: int) -> list[str]:
    """The items joined by GAP into as few lines of at most `width` cells as fit."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(GAP) + len(item) <= width:
            lines[-1] += GAP + item
        else:
            lines.append(item)
    return lines


class _BarColumn(ProgressColumn):
    """The bar: up to BAR_WIDTH cells, shrinking to what the other columns leave."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=False))

    def render(self, task: Task) -> _FittedBar:
        return _FittedBar(task.total, task.completed)


class _FittedBar:
    """A ProgressBar as wide as its table cell, which rich sizes from this measurement."""

    def __init__(self, total: float | None, completed: float) -> None:
        self.total, self.completed = total, completed

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(4, min(BAR_WIDTH, options.max_width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield ProgressBar(total=self.total, completed=self.completed, width=options.max_width)


class _RateColumn(ProgressColumn):
    """Rows per second, in at most 11 cells: a resumed batch settles its carried rows at
    once, and a rate of 96976.7 would push the bar off the line."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        return Text(f"{rate(task.speed)} rows/s")


def rate(speed: float | None) -> str:
    """`--` until rich has measured it, then 2.5, 42, 999 or 12k."""
    if not speed:
        return "--"
    if speed < 100:
        return f"{speed:.1f}"
    return f"{speed:.0f}" if speed < 1000 else f"{speed / 1000:.0f}k"


class _LeftColumn(ProgressColumn):
    """The time left, said as such (a bare 0:00:29 could be the time spent)."""

    max_refresh = 0.5  # rich's TimeRemainingColumn's own pace: the estimate does not flicker

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        left = task.time_remaining
        if left is None:
            return Text("-:--:-- left")
        minutes, seconds = divmod(int(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{seconds:02d} left")
