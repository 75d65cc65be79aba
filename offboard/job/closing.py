"""The report's end when it fails: the journal's files are fsync'd and closed on a thread
beside the lists (job/outputs.py), so two errors can stop it at once, and neither is lost.

An OSError (a full disk, an fsync's EIO) becomes one line naming the report directory and
the OS's reason (exit 3); anything else is raised as itself, the close's error in its notes.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OffboardError
from ..core.fs import reason


class ClosingFailed(Exception):
    """The journal's close failed: what it raised, on its way to `unfinished`."""

    def __init__(self, failed: BaseException) -> None:
        super().__init__(failed)
        self.failed = failed


def unfinished(
    directory: Path, first: BaseException, closing: BaseException | None
) -> BaseException:
    """What to raise when the report's end raised `first`, once the journal's close is
    over (`closing`: what the close raised, if it did and `first` is not it)."""
    if isinstance(first, ClosingFailed):
        first, closing = first.failed, None
        parts = [_journal(first)]
    else:
        parts = [f"the report could not be written: {_why(first)}"]
        if closing is not None:
            parts.append(_journal(closing))
            first.add_note(f"and {parts[-1]}")
    if isinstance(first, OSError) and (closing is None or isinstance(closing, OSError)):
        return OffboardError(f"{directory}: {'; and '.join(parts)}")
    return first


def _journal(failed: BaseException) -> str:
    return f"the journal could not be written to disk: {_why(failed)}"


def _why(exc: BaseException) -> str:
    return reason(exc) if isinstance(exc, OSError) else type(exc).__name__
