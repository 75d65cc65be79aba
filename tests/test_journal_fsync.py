"""The journal's durability promise (journal.writer.Report.settled, group_commit), a fake fsync.

A kill -9 test cannot see a missing fsync (the page cache outlives the process); only a
power cut would. So the fsyncs themselves are watched: each records how much of the journal
it covered.
"""

from __future__ import annotations

import os
import threading
import time
from functools import partial
from typing import Any

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
    """Each Report.settled, one at a time, is followed by an fsync of the journal that covers
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
        report.settled(Result(Row(number, "10", str(number)), Outcome.REVOKED, 10, number))
        size = os.fstat(descriptor).st_size
        assert fsyncs.wait_covering(descriptor, size), f"row {number} never fsynced"
    report.close()


class CountingFile:
    """A journal file that counts its flushes (each one a write to the operating system)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.flushes = inner, 0

    def flush(self) -> None:
        self.flushes += 1
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_read_backs_verdicts_are_journaled_in_one_flush(tmp_path):
    """Report.amend_all writes the same lines as Report.amend one by one, flushed (and the
    fsync asked for) once for all of them, not once a row."""
    records = [
        {"row": n, "account": 10, "amend": True, "verified": n % 2 == 0} for n in range(2, 9)
    ]
    texts = []
    for name, one_by_one in (("each", True), ("all", False)):
        report = Report.create(tmp_path / name, [], {"source": "l.csv"})
        report.open()
        journal = report._journal
        assert journal is not None
        counting = CountingFile(journal._file)
        journal._file = counting  # type: ignore[assignment]
        if one_by_one:
            for record in records:
                report.amend(record)
        else:
            report.amend_all(records)
        flushes = counting.flushes
        journal._file = counting.inner
        report.close()
        texts.append((tmp_path / name / ".offboard" / "journal.jsonl").read_text())
        assert flushes == (len(records) if one_by_one else 1)
    assert texts[0] == texts[1] and texts[0].count("\n") == len(records)


def test_the_journal_is_on_disk_before_summary_json_is_written(sandbox, tmp_path, monkeypatch):
    """The journal's files are fsync'd beside the lists (job/outputs.py), and all of them
    before summary.json, the report's last file, is written: a power cut never leaves a
    summary over a journal that is not on disk."""
    from offboard.core.job import Job, Seams
    from offboard.job.run import run_one

    from .conftest import KEY
    from .helpers import FakeClock

    synced: list[str] = []
    real = os.fsync

    def recording(descriptor: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{descriptor}")))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    sb = sandbox()
    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    job = Job(str(source), base_url=sb.url, report_dir=str(tmp_path / "r"), yes=True, verbosity=-1)
    done = run_one(job, Seams(environ={"GCORE_API_KEY": KEY}, clock=FakeClock()))
    assert done.exit_code == 0, done.problem
    summary = synced.index(".summary.json.tmp")
    for name in ("journal.jsonl", "inflight.jsonl", "ordered.jsonl"):
        assert name in synced[:summary], name
