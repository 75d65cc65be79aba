"""Where a report directory and its files are: the names, the default place, and the checks
before a run makes one (journal/writer.py writes the files; journal/reader.py and the
restore read them back).

    DIR/.offboard/   what only offboard reads back (owner-only, like everything here):
        run.json       the run's SOURCE, sha256, options, deletions
        journal.jsonl  one record per settled row, appended and fsync'd: the truth
        inflight.jsonl a line per row just before its first request
        ordered.jsonl  the same records once each, in input order (the reorder buffer's)
        lock           the directory's flock
    DIR/results.jsonl  the records as each row settles (flushed), for people watching
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import SettingsError
from ..core.fs import exists, is_dir, reason

INTERNAL = ".offboard"
JOURNAL, IN_FLIGHT, ORDERED, META, LOCK = (
    "journal.jsonl",
    "inflight.jsonl",
    "ordered.jsonl",
    "run.json",
    "lock",
)
LIVE = "results.jsonl"


def default_dir(name: str, now: datetime) -> Path:
    return Path("reports") / f"{name}-{stamp(now)}"


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def internal(directory: Path) -> Path:
    return directory / INTERNAL


def check_dir(directory: Path, chosen: bool) -> Path:
    """The directory to use, checked before anything is sent: a chosen one must be new
    or empty; a default one that exists (same second) gets a -2, -3 ... suffix."""
    where = "report directory "
    if not exists(directory, SettingsError, where):
        return directory
    if not is_dir(directory, SettingsError, where):
        raise SettingsError(f"report directory {directory}: exists and is not a directory")
    try:
        holds_files = chosen and any(directory.iterdir())
    except OSError as exc:
        raise SettingsError(f"{where}{directory}: {reason(exc)}") from None
    if holds_files:
        raise SettingsError(
            f"report directory {directory}: already holds files; choose a new directory"
        )
    return directory if chosen else _next_free(directory)


def make_dir(directory: Path) -> None:
    """Make an existing directory (and its internal folder) owner-only."""
    try:
        for path in (directory, internal(directory)):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
    except OSError as exc:
        raise SettingsError(f"report directory {directory}: {reason(exc)}") from None


def now() -> str:
    """The time a report records (`settled_at`, a restore's times): UTC, in milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _next_free(directory: Path) -> Path:
    """Two runs in the same second get -2, -3, ... rather than sharing a directory."""
    for n in range(2, 1000):
        candidate = directory.with_name(f"{directory.name}-{n}")
        if not candidate.exists():
            return candidate
    raise SettingsError(f"report directory {directory}: too many runs with this name")
