"""Owner-only files, and the journal file itself: JSON lines appended, each flushed at once
and fsync'd by group commit (journal/group_commit.py).

A run's report (journal/writer.py) and a restore's (restore/report.py) keep their journals
through `JsonLines`, so both make the same promise: a killed process loses no flushed line,
a power cut at most the last group commit's. journal/reader.py reads them back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .group_commit import GroupCommit

# json.dumps(value, ensure_ascii=False), the same text, without the encoder json.dumps makes
# afresh on every call given an option: ~4 us less a record, and a run encodes three a row
# (the row's mark before it is sent, its record, the read-back's verdict).
encoded: Callable[[object], str] = json.JSONEncoder(ensure_ascii=False).encode


class JsonLines:
    """An append-only journal file (made owner-only if missing; a resume appends)."""

    def __init__(self, path: Path, commit: Callable[[int], GroupCommit] | None = None) -> None:
        self._file = _open_private(path, "a")
        # Looked up when called, so a test can watch the fsyncs of any journal.
        self._syncer: GroupCommit | None = (commit or GroupCommit)(self._file.fileno())

    def fileno(self) -> int:
        return self._file.fileno()

    def append(self, line: str) -> None:
        """One record (a JSON object and its newline): flushed before the caller goes on,
        so a killed process loses none; the fsync follows on the group commit's thread."""
        assert self._syncer is not None, "journal closed"
        self._file.write(line)
        self._file.flush()
        self._syncer.request()

    def append_all(self, lines: list[str]) -> None:
        """Records written together (the read-back's verdicts, all known at once): flushed
        once before the caller goes on, then fsync'd as `append` says."""
        assert self._syncer is not None, "journal closed"
        if not lines:
            return
        self._file.write("".join(lines))
        self._file.flush()
        self._syncer.request()

    def close(self) -> None:
        """Everything on disk, then closed (twice is harmless); closed even when the
        fsync fails, which is then raised."""
        if self._syncer is None:
            return
        self._syncer.stop()  # before the file it syncs is closed
        self._syncer = None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()


def write_private(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write one file: owner-only, to a temporary name, fsync'd, then renamed into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    with _open_private(temporary, "x", encoding) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def append_private(path: Path, encoding: str = "utf-8") -> IO[str]:
    """An owner-only file to append to (made if missing)."""
    return _open_private(path, "a", encoding)


def open_private(path: Path, encoding: str = "utf-8") -> IO[str]:
    """A new owner-only file for writing (an existing one is replaced)."""
    path.unlink(missing_ok=True)
    return _open_private(path, "x", encoding)


def _open_private(path: Path, mode: str, encoding: str = "utf-8") -> IO[str]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if mode == "x" else os.O_APPEND)
    descriptor = os.open(path, flags, 0o600)
    os.chmod(path, 0o600)  # in case the file existed with wider rights
    return os.fdopen(descriptor, "w", encoding=encoding, newline="")
