"""Who hears of a row once it has settled: small subscribers, called in one fixed order.

    execute/workers.py: settle(action) -> Result -> Subscribers.settle(result)
        1. marks, in order:    complete the result (the deletion mark, the login fact)
        2. the journal:        records it (flushed) before anyone else hears of the row
        3. watchers, in order: the log line, the progress bar

Why this order: the marks change what is recorded, so they come before the journal (and
they run in settling order, which is how the deletion mark finds the last row to settle).
The journal comes before every watcher, so what a person sees is exactly what was
journaled, and never a row the journal does not hold (a run killed after a log line can
still be resumed from the journal with that row in it).

A subscriber that raises is not caught: the exception leaves the executor, the other
workers are cancelled, no later subscriber hears of the row, and the run ends without a
report (the CLI's "internal error", exit 3; the journal so far lets --resume continue).
That is what a journal that cannot write (a full disk) has always done, and every
subscriber is handled the same way. Here in core/ so that the executor and every
subscriber (plan/, journal/, execute/, report/) can name these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .models import Result


class RowMark(Protocol):
    """Completes a freshly settled result before it is journaled."""

    def mark(self, result: Result) -> Result: ...


class RowSink(Protocol):
    """Hears of each settled row once, with the result as journaled."""

    def settled(self, result: Result) -> None: ...


@dataclass(frozen=True, slots=True)
class Subscribers:
    """Everyone who hears of a settled row, in the order they are called."""

    journal: RowSink
    marks: Sequence[RowMark] = ()
    watchers: Sequence[RowSink] = ()

    def settle(self, result: Result) -> Result:
        """Hand one settled row to everyone; returns the result as journaled."""
        for mark in self.marks:
            result = mark.mark(result)
        self.journal.settled(result)
        for watcher in self.watchers:
            watcher.settled(result)
        return result
