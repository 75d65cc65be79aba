"""The jobs folder's memory (`.offboard-state.json`): which job is finished, open or running.

Only `run` on a folder (inbox/run.py) ever constructs this; `plan` has no way to it.

    running   a run started and has not ended (killed, or aborted with exit 3): resumed
    open      the run ended with rows that still hold access (exit 1): resumed, so its
              open rows are retried, until they settle or the file leaves the folder
    finished  every row settled (exit 0): skipped until the file changes

A job's entry is keyed by file name and holds the file's sha256: an edited file
is a new job. Entries of files that left the folder are dropped.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import SettingsError
from ..report.summary import iso

STATE = ".offboard-state.json"


class InboxState:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.jobs: dict[str, dict[str, Any]] = _load(folder)

    def resumable(self, name: str, sha256: str) -> str | None:
        """The report directory to continue the job in, if it has one."""
        entry = self.jobs.get(name, {})
        if entry.get("sha256") != sha256 or self.status(name) not in ("running", "open"):
            return None
        directory = entry.get("report_dir")
        return directory if isinstance(directory, str) and Path(directory).is_dir() else None

    def status(self, name: str) -> str:
        entry = self.jobs.get(name, {})
        status = str(entry.get("status", ""))
        if status == "finished" and entry.get("exit_code") == 1:
            return "open"  # written by an older offboard, which closed exit-1 jobs
        return status

    def finished(self, name: str, sha256: str) -> dict[str, Any] | None:
        entry = self.jobs.get(name)
        if entry and entry.get("sha256") == sha256 and self.status(name) == "finished":
            return entry
        return None

    def started(self, name: str, sha256: str, directory: str) -> None:
        self.jobs[name] = {"sha256": sha256, "status": "running", "report_dir": directory}
        self._save()

    def ended(self, name: str, exit_code: int, resumed: bool) -> None:
        entry = self.jobs[name]
        if exit_code == 0:
            entry |= {"status": "finished", "exit_code": 0, "finished_at": _now()}
        elif exit_code == 1:
            entry |= {"status": "open", "exit_code": 1, "last_run_at": _now()}
        elif exit_code == 2 and not resumed:
            del self.jobs[name]  # refused before sending: nothing to resume
        self._save()

    def forget_missing(self, present: set[str]) -> None:
        """Drop the entries of files no longer in the folder (how a person closes a job)."""
        gone = [name for name in self.jobs if name not in present]
        for name in gone:
            del self.jobs[name]
        if gone:
            self._save()

    def _save(self) -> None:
        temporary = self._folder / f"{STATE}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"jobs": self.jobs}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._folder / STATE)


def _load(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise SettingsError(f"{folder / STATE}: unreadable; move it away to start afresh") from None
    jobs = data.get("jobs", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}


def _now() -> str:
    return iso(datetime.now(UTC))
