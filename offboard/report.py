"""The report directory: results.jsonl as rows settle, the rest once at the end.

Every file is created readable by the owner only (it holds personal data),
and every file but the journal is written to a temporary name and renamed, so
a reader never sees a half-written report.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .errors import SettingsError
from .models import Outcome, Result, Row

COLUMNS = ("row", "account", "user", "user_id", "outcome", "http_status", "attempts",
           "request_id", "message")
ALWAYS_WRITTEN = (Outcome.REVOKED, Outcome.TOKEN_BLOCKED, Outcome.MISSING)

# A spreadsheet runs a cell starting with one of these as a formula (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def default_dir(name: str, now: datetime) -> Path:
    return Path("reports") / f"{name}-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


class Report:
    """One run's report directory."""

    def __init__(self, directory: Path, columns: Sequence[str]) -> None:
        self.directory = directory
        # Carried columns that share a name with a report column get a prefix.
        self.carried = {c: (f"input_{c}" if c in COLUMNS else c) for c in columns}
        self._journal: IO[str] | None = None
        self._in_flight: IO[str] | None = None

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
    def create(cls, directory: Path, columns: Sequence[str]) -> Report:
        """Open the journal in a directory made by make_dir."""
        report = cls(directory, columns)
        report._journal = _open_private(directory / "results.jsonl", "a")
        report._in_flight = _open_private(directory / "inflight.jsonl", "a")
        return report

    def mark_sending(self, row: Row, account: int | None) -> None:
        """Note a row just before its first request (see journal.py)."""
        assert self._in_flight is not None
        self._in_flight.write(json.dumps(
            {"row": row.number, "account": account if account is not None else _plain(row.account),
             "user": _plain(row.user)}, ensure_ascii=False) + "\n")
        self._in_flight.flush()

    def close(self) -> None:
        for handle in (self._journal, self._in_flight):
            if handle is not None:
                handle.close()
        self._journal = self._in_flight = None

    def record(self, result: Result) -> dict[str, Any]:
        row = result.row
        record: dict[str, Any] = {
            "row": row.number,
            "account": result.account if result.account is not None else _plain(row.account),
            "user": _plain(row.user),
            "user_id": result.user_id,
            "outcome": str(result.outcome),
            "http_status": result.http_status,
            "attempts": result.attempts,
            "request_id": result.request_id,
            "message": result.message,
        }
        for name, shown in self.carried.items():
            record[shown] = row.extra.get(name, "")
        return record

    def add(self, result: Result) -> None:
        """Append one settled row to the journal, on disk before the next row settles."""
        assert self._journal is not None
        self._journal.write(json.dumps(self.record(result), ensure_ascii=False) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def finish(self, results: Sequence[Result], summary: Mapping[str, Any]) -> None:
        """Write results.csv, the per-outcome lists and summary.json."""
        self.close()
        records = [self.record(r) for r in results]
        header = [*COLUMNS, *self.carried.values()]
        self.write_file("results.csv", _csv_text(header, records))
        present = {r.outcome for r in results}
        for outcome in Outcome:
            if outcome in ALWAYS_WRITTEN or outcome in present:
                chosen = [rec for rec in records if rec["outcome"] == outcome]
                self.write_file(f"{outcome}.csv", _csv_text(header, chosen))
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


def _csv_text(header: Sequence[str], records: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([neutralise(_cell(record[name])) for name in header])
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _plain(value: Any) -> Any:
    """An input value as the person wrote it (scalars only: YAML could hold anything)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__}>"


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
