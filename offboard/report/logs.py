"""Log lines on stderr: plain text for people, one JSON object per line for machines.

Text: quiet by default (the summary table is the output); -v adds a line per
settled row and per retry; -q silences notes and progress but never an error:
every failure is one line whatever the verbosity. JSON: every settled row,
every retry, hints, errors and a final summary, each line carrying the run's ID
and the job's name; nothing but JSON lines is printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from ..core.models import Result
from ..core.restore_record import RESTORE_EVENT_FIELDS
from ..core.words import pair_words, plain


class Log:
    def __init__(
        self,
        form: str = "text",
        verbosity: int = 0,
        run_id: str = "",
        stream: TextIO | None = None,
        job: str | None = None,
    ) -> None:
        self.json = form == "json"
        self.verbosity = verbosity
        self.run_id = run_id
        self.job = job
        self._stream = stream or sys.stderr

    def for_job(self, job: str) -> Log:
        """The same log, its events marked with one job's name (folder runs)."""
        return Log("json" if self.json else "text", self.verbosity, self.run_id, self._stream, job)

    @property
    def chatty(self) -> bool:
        """True when text lines per row would interleave with a progress bar."""
        return not self.json and self.verbosity > 0

    def settled(self, result: Result) -> None:
        """A settled row's line (-v) or event (JSON): a row sink (core/sinks.py)."""
        row = result.row
        if self.json:
            self._emit(
                "row",
                row=row.number,
                account=result.account,
                account_name=result.account_name,
                user=plain(row.user),
                user_id=result.user_id,
                outcome=str(result.outcome),
                http_status=result.http_status,
                attempts=result.attempts,
                request_id=result.request_id,
                message=result.message,
            )
        elif self.verbosity > 0:
            account = result.account or plain(row.account)
            who = pair_words(account, plain(row.user), result.account_name)
            self._line(
                f"row {row.number}: {result.outcome}{f': {who}' if who else ''}: "
                f"{result.message.removeprefix(f'row {row.number}: ')}"
            )

    def restored(self, record: Mapping[str, Any]) -> None:
        """A restore's row as it settles (its journal record)."""
        if self.json:
            self._emit("row", **{k: record.get(k) for k in RESTORE_EVENT_FIELDS})
        elif self.verbosity > 0:
            self._line(
                f"row {record['row']}: {record['outcome']}: account {record['account']} "
                f"user {record.get('email') or record.get('user_id')}: "
                f"{record.get('message', '')}"
            )

    def retry(self, method: str, path: str, attempt: int, reason: str, delay: float) -> None:
        if self.json:
            self._emit(
                "retry",
                method=method,
                path=path,
                attempt=attempt,
                reason=reason,
                delay=round(delay, 3),
            )
        elif self.verbosity > 0:
            self._line(
                f"retry: {method} {path}: attempt {attempt} got {reason}; next in {delay:.2f} s"
            )

    def warn(self, message: str) -> None:
        if self.json:
            self._emit("warning", message=message)
        elif self.verbosity >= 0:
            self._line(f"offboard: {message}")

    def error(self, message: str, **fields: Any) -> None:
        """A failure: printed at every verbosity (-q included)."""
        if self.json:
            self._emit("error", message=message, **fields)
        else:
            self._line(f"offboard: {message}")

    def hint(self, text: str, command: str) -> None:
        """A command to paste (stdout in text mode, an event in JSON mode)."""
        if self.json:
            self._emit("hint", message=text, command=command)
        elif self.verbosity >= 0:
            sys.stdout.write(f"{text}: {command}\n")
            sys.stdout.flush()

    def summary(self, summary: Mapping[str, Any]) -> None:
        if self.json:
            keys = (
                "command",
                "rows",
                "counts",
                "exit_code",
                "aborted",
                "started_at",
                "finished_at",
                "source",
                "users_deleted",
                "users_would_be_deleted",
                "report_dir",
                "plan",
            )
            self._emit("summary", **{k: summary[k] for k in keys if k in summary})

    def _emit(self, event: str, **fields: Any) -> None:
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "run_id": self.run_id,
            "job": self.job,
            "event": event,
            **fields,
        }
        self._line(json.dumps(line, ensure_ascii=False))

    def _line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
