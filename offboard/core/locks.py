"""Exclusive locks that die with the process: one run per report directory and per job.

flock(2) locks are released by the kernel when the holder exits, even by
kill -9, so a crashed run never leaves a stale lock. The lock file holds the
holder's PID, for the message the second run prints.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import Refused


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Hold `path` locked for the block; refuse (exit 2) at once if another run holds it."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise Refused(f"{what}: cannot create the lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise Refused(
                f"{what} is in use by another offboard run (PID {holder}); wait for it to finish"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock


def holder(path: Path) -> str | None:
    """The PID of the live run holding `path` locked, or None when nobody holds it (a
    missing lock file included). The lock is tried, never kept."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        return None
    finally:
        os.close(descriptor)
