"""fsync a journal in a background thread on a short timer: group commit, so the event loop
never waits on the disk and the disk is not asked once per row.

The promise, for every line the journal's writer has flushed (journal/writer.py's
Report.settled flushes each settled row before anything else happens to it):
- a process killed at any moment (kill -9, an OOM kill) loses none of them: a flushed line
  is in the operating system's page cache, which outlives the process, so `--resume`
  reads it;
- a power cut or an OS crash loses at most the lines flushed in the last INTERVAL seconds
  plus one fsync's duration: the thread fsyncs at most every INTERVAL seconds, whenever a
  line came since its last fsync;
- `stop()` fsyncs once more, so a run that ends normally leaves everything on disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

INTERVAL = 0.05  # seconds between fsyncs at most: 20 a second, whatever the row rate


class GroupCommit:
    """fsyncs a file descriptor in a thread, at most every INTERVAL s while asked to.

    An fsync per row on the event loop cost 0.2 ms (up to 5 ms under load) of blocking
    each; waking this thread for every row still cost 0.2 ms of CPU a row (issue 14).
    Now `request()` only sets a flag; the thread wakes, fsyncs what came, then sleeps
    INTERVAL before it looks again.
    """

    def __init__(
        self, descriptor: int, fsync: Callable[[int], None] = os.fsync, interval: float = INTERVAL
    ) -> None:
        self._descriptor = descriptor
        self._fsync = fsync
        self._interval = interval
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="offboard-journal-sync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """A line was flushed: it goes with the next fsync. Cheap: no wake-up while the
        thread sleeps out its interval."""
        if not self._wanted.is_set():
            self._wanted.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wanted.set()
        self._thread.join()
        self._fsync(self._descriptor)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping.is_set():
                return
            self._wanted.clear()
            self._fsync(self._descriptor)
            if self._stopping.wait(self._interval):
                return
