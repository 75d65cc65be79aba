"""Log lines on stderr: plain text for people, one JSON object per line for machines.

Text: quiet by default (the summary table is the output); -v adds a line per
settled row and per retry; -q keeps only warnings. JSON: every settled row,
every retry and a final summary, each line carrying the run's ID.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from .models import Result, plain


class Log:
    def __init__(self, form: str = "text", verbosity: int = 0, run_id: str = "",
                 stream: TextIO | None = None) -> None:
        self.json = form == "json"
        self.verbosity = verbosity
        self.run_id = run_id
        self._stream = stream or sys.stderr

    @property
    def chatty(self) -> bool:
        """True when text lines per row would interleave with a progress bar."""
        return not self.json and self.verbosity > 0

    def row(self, result: Result) -> None:
        row = result.row
        if self.json:
            self._emit("row", row=row.number, account=result.account, user=plain(row.user),
                       user_id=result.user_id, outcome=str(result.outcome),
                       http_status=result.http_status, attempts=result.attempts,
                       request_id=result.request_id, message=result.message)
        elif self.verbosity > 0:
            account = result.account or plain(row.account)
            self._line(f"row {row.number}: {result.outcome}: account {account} "
                       f"user {plain(row.user)}: {result.message}")

    def retry(self, method: str, path: str, attempt: int, reason: str, delay: float) -> None:
        if self.json:
            self._emit("retry", method=method, path=path, attempt=attempt, reason=reason,
                       delay=round(delay, 3))
        elif self.verbosity > 0:
            self._line(f"retry: {method} {path}: attempt {attempt} got {reason}; "
                       f"next in {delay:.2f} s")

    def warn(self, message: str) -> None:
        if self.json:
            self._emit("warning", message=message)
        elif self.verbosity >= 0:
            self._line(f"offboard: {message}")

    def summary(self, summary: Mapping[str, Any]) -> None:
        if self.json:
            keys = ("command", "rows", "counts", "exit_code", "aborted", "started_at",
                    "finished_at", "source")
            self._emit("summary", **{k: summary.get(k) for k in keys})

    def _emit(self, event: str, **fields: Any) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "run_id": self.run_id, "event": event, **fields}
        self._line(json.dumps(line, ensure_ascii=False))

    def _line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
