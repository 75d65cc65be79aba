"""The journal's group commit (offboard/journal/group_commit.py): fsyncs on a timer, never per
row."""

from __future__ import annotations

import threading
import time

from offboard.journal.group_commit import GroupCommit


class Fsyncs:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, descriptor: int) -> None:
        with self.lock:
            self.calls.append(time.monotonic())


def synced_once(fsyncs: Fsyncs) -> None:
    """Wait (5 s at most) for the thread's first fsync."""
    deadline = time.monotonic() + 5
    while not fsyncs.calls and time.monotonic() < deadline:
        time.sleep(0.01)


def test_many_rows_cost_one_fsync_per_interval_not_one_each() -> None:
    """2,000 rows flushed in a burst: at most one fsync per interval while they come (plus
    the one that stop() makes), where a wake-up per row once made an fsync for most rows."""
    fsyncs = Fsyncs()
    commit = GroupCommit(3, fsyncs, interval=0.05)
    started = time.monotonic()
    for _ in range(2000):
        commit.request()
        time.sleep(0.0001)
    took = time.monotonic() - started
    commit.stop()
    assert 2 <= len(fsyncs.calls) <= took / 0.05 + 3, (len(fsyncs.calls), took)


def test_a_lone_row_is_synced_without_waiting_for_stop() -> None:
    """One row, then nothing: the thread syncs it on its own (a power cut after that loses
    nothing), and stop() syncs once more."""
    fsyncs = Fsyncs()
    commit = GroupCommit(3, fsyncs, interval=0.05)
    commit.request()
    synced_once(fsyncs)
    assert len(fsyncs.calls) == 1
    commit.stop()
    assert len(fsyncs.calls) == 2


def test_stop_does_not_wait_out_the_interval() -> None:
    fsyncs = Fsyncs()
    commit = GroupCommit(3, fsyncs, interval=30.0)
    commit.request()
    synced_once(fsyncs)
    started = time.monotonic()
    commit.stop()
    assert time.monotonic() - started < 5  # not the 30 s interval
