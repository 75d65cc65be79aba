"""The journal's durability promise (journal.writer.Report.settled, group_commit), a fake fsync.

A kill -9 test cannot see a missing fsync (the page cache outlives the process); only a
power cut would. So the fsyncs themselves are watched: each records how much of the journal
it covered.
"""

from __future__ import annotations

import json
import os
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

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
    """Report.amend_verdicts writes one line a row, flushed (and the fsync asked for) once
    for all of them, not once a row."""
    verdicts = [(n, 10, str(100 + n), {"verified": n % 2 == 0}) for n in range(2, 9)]
    report = Report.create(tmp_path / "r", [], {"source": "l.csv"})
    report.open()
    journal = report._journal
    assert journal is not None
    counting = CountingFile(journal._file)
    journal._file = counting  # type: ignore[assignment]
    report.amend_verdicts(verdicts)
    flushes = counting.flushes
    journal._file = counting.inner
    report.close()
    lines = (tmp_path / "r" / ".offboard" / "journal.jsonl").read_text().splitlines()
    assert flushes == 1
    assert [json.loads(line) for line in lines] == [
        {"row": r, "account": a, "user": u, "amend": True, **v} for r, a, u, v in verdicts
    ]


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


def _finish_failing(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, lists: bool, close: bool
) -> Any:
    """A two-row run whose lists' writer and/or journal fsync fail at the finish."""
    from offboard.job import outputs

    from .conftest import KEY

    real_fsync = os.fsync

    def failing_fsync(descriptor: int) -> None:
        if os.readlink(f"/proc/self/fd/{descriptor}").endswith("ordered.jsonl"):
            raise OSError(5, "Input/output error (fsync of ordered.jsonl)")
        real_fsync(descriptor)

    def failing_lists(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device (the lists)")

    if close:
        monkeypatch.setattr(os, "fsync", failing_fsync)
    if lists:
        monkeypatch.setattr(outputs, "write_lists", failing_lists)
    sb = sandbox()
    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    from offboard.cli.exits import run_guarded
    from offboard.cli.main import cli

    words = ["run", str(source), "--base-url", sb.url, "--report-dir", str(tmp_path / "r")]
    words += ["--yes", "-q"]
    monkeypatch.setenv("GCORE_API_KEY", KEY)
    monkeypatch.delenv("OFFBOARD_DEBUG", raising=False)
    try:
        run_guarded(cli, words)
    except SystemExit as exit:
        return exit.code
    return None


def test_a_failed_journal_close_is_reported_when_the_lists_fail_first(
    sandbox, tmp_path, monkeypatch, capsys
):
    """At the finish, the lists' writer fails and so does the journal's fsync on its thread:
    the one stderr line names the first error and the second (neither is lost), exit 3."""
    code = _finish_failing(sandbox, tmp_path, monkeypatch, lists=True, close=True)
    err = capsys.readouterr().err
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1, err
    assert "No space left on device (the lists)" in err, err
    assert "fsync of ordered.jsonl" in err, err
    assert err.index("the lists") < err.index("fsync of ordered.jsonl"), err


def test_a_failed_journal_close_alone_is_reported(sandbox, tmp_path, monkeypatch, capsys):
    """Only the journal's fsync fails at the finish: its error reaches stderr, exit 3, and
    no summary.json is written over a journal that is not on disk."""
    code = _finish_failing(sandbox, tmp_path, monkeypatch, lists=False, close=True)
    err = capsys.readouterr().err
    assert code == 3, err
    assert "fsync of ordered.jsonl" in err, err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_failed_lists_alone_are_reported_with_the_journal_closed(
    sandbox, tmp_path, monkeypatch, capsys
):
    """Only the lists' writer fails at the finish: its error reaches stderr, exit 3, after
    the journal's close on its thread has finished (its files are closed, not left open)."""
    code = _finish_failing(sandbox, tmp_path, monkeypatch, lists=True, close=False)
    err = capsys.readouterr().err
    assert code == 3, err
    assert "No space left on device (the lists)" in err, err
    assert not [t for t in threading.enumerate() if t.name == "offboard-background"]


def test_every_journal_file_is_closed_when_an_fsync_fails(tmp_path, monkeypatch):
    """Report.close closes all four journal files even when the first fsync fails, then
    raises that failure (no file is left open behind it)."""
    report = Report.create(tmp_path / "r", [], {"source": "l.csv"})
    report.open()
    assert report._journal is not None
    handles = [report._journal._file, report._in_flight, report._ordered, report._live]

    def failing(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    try:
        report.close()
    except OSError as exc:
        assert exc.strerror == "Input/output error"
    else:
        raise AssertionError("close did not raise")
    assert all(h is not None and h.closed for h in handles)
