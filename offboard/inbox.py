"""`offboard run jobs/`: a folder of job files as a cron inbox.

Every job file in the folder runs in turn, each with its own report. A job
that finished (exit 0 or 1) is recorded in the folder's state file and skipped
by later runs until the file changes; one that was interrupted or killed is
resumed into its own report directory. The exit code is the worst of the jobs'.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OffboardError, SettingsError, SourceError
from .locks import exclusive
from .logs import Log
from .report import default_dir
from .source import YAML_SUFFIXES, read_source
from .summary import iso

if TYPE_CHECKING:
    from .run import Job, Seams
    from .source import Batch

STATE = ".offboard-state.json"


def run_inbox(job: Job, seams: Seams) -> int:
    from .run import run_one

    folder = Path(job.source)
    if job.resume or job.report_dir:
        raise SettingsError("--resume and --report-dir do not apply to a jobs folder: each job "
                            "keeps its own report, and interrupted jobs resume by themselves")
    with exclusive(folder / ".offboard-inbox.lock", f"jobs folder {folder}"):
        state = _load(folder)
        worst = 0
        for path in sorted(p for p in folder.iterdir()
                           if p.suffix.lower() in YAML_SUFFIXES and not p.name.startswith(".")):
            try:
                batch = read_source(str(path))
            except SourceError as exc:
                _say(job, f"{exc}")
                worst = max(worst, exc.exit_code)
                continue
            if batch.sandbox is not None and not job.sandbox:
                _say(job, f"{path}: skipped: a sandbox job (it has a sandbox: world)")
                continue
            entry = state.get(path.name, {})
            same = entry.get("sha256") == batch.sha256
            if same and entry.get("status") == "finished":
                _say(job, f"{path}: skipped: finished {entry.get('finished_at')} "
                          f"(exit {entry.get('exit_code')}); edit the file to run it again")
                continue
            resume = entry.get("report_dir") if same and entry.get("status") == "running" else None
            if resume and not (Path(resume) / "run.json").exists():
                resume = None  # killed before the run started: start afresh
            directory = resume or str(_fresh_dir(path, batch))
            state[path.name] = {"sha256": batch.sha256, "status": "running",
                                "report_dir": directory}
            _save(folder, state)
            one = replace(job, source=str(path), resume=resume,
                          report_dir=None if resume else directory)
            try:
                code = run_one(one, seams).exit_code
            except OffboardError as exc:
                _say(job, f"{path}: {exc}")
                code = exc.exit_code
            if code in (0, 1):
                state[path.name] |= {"status": "finished", "exit_code": code,
                                     "finished_at": iso(datetime.now(UTC))}
            elif code == 2 and not resume:
                del state[path.name]  # refused before sending: nothing to resume
            _save(folder, state)
            worst = max(worst, code)
        return worst


def _fresh_dir(path: Path, batch: Batch) -> Path:
    chosen = batch.settings.get("report_dir")
    if isinstance(chosen, str) and chosen.strip():
        return Path(batch.base_dir) / chosen
    return default_dir(batch.name, datetime.now(UTC))


def _load(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise SettingsError(f"{folder / STATE}: unreadable; move it away to start afresh"
                            ) from None
    return data.get("jobs", {}) if isinstance(data, dict) else {}


def _save(folder: Path, jobs: dict[str, Any]) -> None:
    temporary = folder / f"{STATE}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"jobs": jobs}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / STATE)


def _say(job: Job, message: str) -> None:
    Log(job.log_format, job.verbosity).warn(message)
