"""The journal's durability promise (journal.writer.Report.add, journal/group_commit.py), with a
fake fsync.

A kill -9 test cannot see a missing fsync (the page cache outlives the process); only a
power cut would. So the fsyncs themselves are watched: each records how much of the journal
it covered.
"""

from __future__ import annotations

import os
import threading
import time
from functools import partial

from offboard.core.models import Outcome, Result, Row
from offboard.journal import writer as report_module
from offboard.journal.group_commit import GroupCommit
from offboard.journal.writer import Report


class Fsyncs:
    """A fake fsync: records, per call, the descriptor and the file's size at that moment."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.changed = threading.Condition()

    def __call__(self, descriptor: int) -> None:
        with self.changed:
            self.calls.append((descriptor, os.fstat(descriptor).st_size))
            self.changed.notify_all()

    def wait_covering(self, descriptor: int, size: int, seconds: float = 5.0) -> bool:
        """True once an fsync of `descriptor` covered `size` bytes (False after `seconds`)."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while not any(d == descriptor and s >= size for d, s in self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True


def test_every_added_row_is_fsynced_before_the_report_closes(tmp_path, monkeypatch):
    """Each Report.add, one at a time, is followed by an fsync of the journal that covers
    it while the report is still open (closing fsyncs everything anyway, so a missing
    request would only show at a power cut)."""
    fsyncs = Fsyncs()
    monkeypatch.setattr(report_module, "GroupCommit", partial(GroupCommit, fsync=fsyncs))
    report = Report.create(tmp_path / "r", [], {"source": "l.csv"})
    report.open()
    journal = report._journal
    assert journal is not None
    descriptor = journal.fileno()
    for number in range(2, 12):
        report.add(Result(Row(number, "10", str(number)), Outcome.REVOKED, 10, number))
        size = os.fstat(descriptor).st_size
        assert fsyncs.wait_covering(descriptor, size), f"row {number} never fsynced"
    report.close()
