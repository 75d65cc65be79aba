"""The report directory, written as rows stream past.

results.jsonl (the journal) gets each row as it settles; results.csv, the
per-outcome CSVs and an input-order copy of the journal get rows in input
order, into temporary files renamed into place at the end, so a reader never
sees a half-written report. At the end every file is rewritten and any list an
earlier run into the same directory left (a resume) is removed: what the
directory holds is exactly what this journal says. Every file is created
readable by the owner only: the report holds personal data.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .deletions import Deletions
from .directory import Person
from .errors import SettingsError
from .group_commit import GroupCommit
from .models import Outcome, Result, Row, plain

COLUMNS = ("row", "account", "user", "user_id", "outcome", "http_status", "attempts",
           "request_id", "message", "name", "email", "user_deleted", "verified", "settled_at")
JOURNAL = "results.jsonl"
ALWAYS_WRITTEN = (Outcome.REVOKED, Outcome.TOKEN_BLOCKED, Outcome.MISSING)

# A spreadsheet runs a cell starting with one of these as a formula (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def default_dir(name: str, now: datetime) -> Path:
    return Path("reports") / f"{name}-{stamp(now)}"


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Report:
    """One run's report directory."""

    def __init__(self, directory: Path, columns: Sequence[str]) -> None:
        self.directory = directory
        self._people: Mapping[int, Person] = {}
        self._meta: dict[str, Any] | None = None
        # Carried columns that share a name with a report column get a prefix.
        self.carried = {c: (f"input_{c}" if c in COLUMNS else c) for c in columns}
        self._journal: IO[str] | None = None
        self._in_flight: IO[str] | None = None
        self._header = [*COLUMNS, *self.carried.values()]
        self._tables: dict[str, tuple[IO[str], Any]] = {}  # file name -> (file, csv writer)
        self._syncer: GroupCommit | None = None
        # Records built for the journal (and their JSON line), kept until the row is
        # written in input order (at most the reorder window), so each is formatted once.
        self._pending: dict[int, tuple[dict[str, Any], str]] = {}
        self._ordered_journal: IO[str] | None = None

    @staticmethod
    def check_dir(directory: Path, chosen: bool) -> Path:
        """The directory to use, checked before anything is sent: a chosen one must be new
        or empty; a default one that exists (same second) gets a -2, -3 ... suffix."""
        if not directory.exists():
            return directory
        if not directory.is_dir():
            raise SettingsError(f"report directory {directory}: exists and is not a directory")
        if chosen and any(directory.iterdir()):
            raise SettingsError(
                f"report directory {directory}: already holds files; choose a new directory")
        return directory if chosen else _next_free(directory)

    @staticmethod
    def make_dir(directory: Path) -> None:
        """Create the directory, owner-only (an existing one is made owner-only too)."""
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(directory, 0o700)
        except OSError as exc:
            raise SettingsError(f"report directory {directory}: {exc.strerror}") from None

    @classmethod
    def create(cls, directory: Path, columns: Sequence[str], meta: dict[str, Any]) -> Report:
        """A new report directory that holds run.json from the moment it exists: made under
        a temporary name and renamed, so a run killed at any point leaves either nothing or
        a directory that --resume can continue with the run's own options."""
        temporary = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir(mode=0o700)
            os.chmod(temporary, 0o700)
            cls(temporary, columns).write_meta(meta)
            os.rename(temporary, directory)
        except OSError as exc:
            shutil.rmtree(temporary, ignore_errors=True)
            raise SettingsError(f"report directory {directory}: {exc.strerror}") from None
        report = cls(directory, columns)
        report._meta = meta
        return report

    def open(self, people: Mapping[int, Person] | None = None) -> None:
        """Open the journal (in a directory made by make_dir); `people` gives the names and
        emails of the report's rows."""
        self._people = people or {}
        self._journal = _open_private(self.directory / JOURNAL, "a")
        ordered = self.directory / f".{JOURNAL}.tmp"
        ordered.unlink(missing_ok=True)
        self._ordered_journal = _open_private(ordered, "x")
        self._syncer = GroupCommit(self._journal.fileno())
        self._in_flight = _open_private(self.directory / "inflight.jsonl", "a")
        for outcome in ALWAYS_WRITTEN:
            self._table(f"{outcome}.csv")
        self._table("results.csv")

    def write_meta(self, meta: dict[str, Any]) -> None:
        """run.json: what a resume needs to know about the run (journal.py)."""
        self._meta = meta
        self.write_file("run.json", json.dumps(meta, indent=1, ensure_ascii=False) + "\n")

    def record_batch(self, deletions: Deletions, people: Mapping[int, Person]) -> None:
        """Add to run.json, before the first DELETE, who the batch deletes and the names of
        its users: a resume, when some are already deleted, reports the same."""
        if self._meta is not None:
            self.write_meta({**self._meta, "deletions": deletions.to_json(), "people": {
                str(p.id): {"name": p.name, "email": p.email} for p in people.values()}})

    def _table(self, name: str) -> tuple[IO[str], Any]:
        """The writer of one CSV of the report, opened (with its header) on first use."""
        if name not in self._tables:
            temporary = self.directory / f".{name}.tmp"
            temporary.unlink(missing_ok=True)
            handle = _open_private(temporary, "x")
            # CRLF, as RFC 4180 says: a cell holding a bare CR is then quoted, not split.
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(self._header)
            self._tables[name] = (handle, writer)
        return self._tables[name]

    def mark_sending(self, row: Row, account: int | None) -> None:
        """Note a row just before its first request (see journal.py)."""
        assert self._in_flight is not None
        self._in_flight.write(json.dumps(
            {"row": row.number, "account": account if account is not None else plain(row.account),
             "user": plain(row.user)}, ensure_ascii=False) + "\n")
        self._in_flight.flush()

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.stop()  # before the file it syncs is closed
            self._syncer = None
        for handle in (self._journal, self._in_flight):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
        self._journal = self._in_flight = None

    def record(self, result: Result) -> dict[str, Any]:
        row = result.row
        person = self._people.get(result.user_id) if result.user_id is not None else None
        record: dict[str, Any] = {
            "row": row.number,
            "account": result.account if result.account is not None else plain(row.account),
            "user": plain(row.user),
            "user_id": result.user_id,
            "outcome": str(result.outcome),
            "http_status": result.http_status,
            "attempts": result.attempts,
            "request_id": result.request_id,
            "message": result.message,
            "name": person.name if person else "",
            "email": person.email if person else "",
            "user_deleted": result.user_deleted,
            "verified": None,
            "settled_at": result.settled_at or _now(),
        }
        for name, shown in self.carried.items():
            record[shown] = row.extra.get(name, "")
        return record

    def add(self, result: Result) -> None:
        """Append one settled row to the journal.

        Flushed at once, so a killed process loses nothing, and fsync'd by a
        background thread right after (see GroupCommit), so a power cut loses at
        most the rows of one fsync while the event loop never waits on the disk.
        """
        assert self._journal is not None and self._syncer is not None
        record = self.record(result)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._pending[id(result)] = (record, line)
        self._journal.write(line)
        self._journal.flush()
        self._syncer.request()

    def carry(self, result: Result, record: Mapping[str, Any]) -> None:
        """A row an earlier run into this directory settled: its record is written again as
        it is (names, times and marks included), not rebuilt from what is known now."""
        full = {name: record.get(name) for name in self._header}
        self._pending[id(result)] = (full, json.dumps(full, ensure_ascii=False) + "\n")

    def write(self, result: Result) -> None:
        """Add one row, in input order, to results.csv and its outcome's CSV."""
        pending = self._pending.pop(id(result), None)
        if pending is None:  # carried over from an earlier run: not journaled again
            record = self.record(result)
            line = json.dumps(record, ensure_ascii=False) + "\n"
        else:
            record, line = pending
        assert self._ordered_journal is not None
        self._ordered_journal.write(line)
        cells = [neutralise(_cell(value)) for value in record.values()]
        for name in ("results.csv", f"{result.outcome}.csv"):
            self._table(name)[1].writerow(cells)

    def finish(self, summary: Mapping[str, Any]) -> None:
        """Put every file in place (the journal replaced by its input-order copy, lists an
        earlier run left removed) and write summary.json."""
        self.close()
        assert self._ordered_journal is not None
        ordered = [(JOURNAL, self._ordered_journal)]
        for name, handle in [*((n, h) for n, (h, _) in self._tables.items()), *ordered]:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(self.directory / f".{name}.tmp", self.directory / name)
        for stale in self.directory.glob("*.csv"):
            if stale.name not in self._tables:
                stale.unlink()
        self._tables, self._ordered_journal = {}, None
        self.write_file("summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")

    def write_file(self, name: str, text: str) -> None:
        """Write one file of the report: owner-only, to a temporary name, then renamed."""
        temporary = self.directory / f".{name}.tmp"
        temporary.unlink(missing_ok=True)
        with _open_private(temporary, "x") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / name)


def neutralise(cell: str) -> str:
    """Prefix a quote so a spreadsheet shows the text instead of running it."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _open_private(path: Path, mode: str) -> IO[str]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if mode == "x" else os.O_APPEND)
    descriptor = os.open(path, flags, 0o600)
    os.chmod(path, 0o600)  # in case the file existed with wider rights
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def _next_free(directory: Path) -> Path:
    """Two runs in the same second get -2, -3, ... rather than sharing a directory."""
    for n in range(2, 1000):
        candidate = directory.with_name(f"{directory.name}-{n}")
        if not candidate.exists():
            return candidate
    raise SettingsError(f"report directory {directory}: too many runs with this name")
