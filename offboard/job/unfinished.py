"""A run stopped before its end, found before a fresh run of the same SOURCE starts.

A report directory holds an *unfinished* run when
- its run.json (written before the first request, journal/writer.py) comes from a `run`
  (a plan never resumes) of the same SOURCE: the same sha256 that --resume checks;
- it holds no summary.json, which a run writes only once every row is in the
  journal (job/outputs.py). A run aborted with exit 3 (a 401, Ctrl-C, SIGTERM, too many
  failures) wrote its summary and printed its own `--resume` line: it is finished
  here, as is a run that ended with rows needing a person (exit 1);
- and no live run holds its lock: a held lock means the run is still going
  (`holder` set), which refuses a second run just as well, with the holder's PID.

The places looked at: the report directory the person (or the job file) chose,
and the newest run of the same SOURCE in the default reports folder. `--new-run`
skips the search; a jobs folder never searches (its state file says which run
each job continues, inbox/run.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import Refused
from ..core.locks import holder
from ..core.models import Mode
from ..journal.layout import INTERNAL, LOCK, default_dir
from ..journal.reader import run_meta
from .options import command_line

STOPPED = "it stopped before writing its summary"
# <name>-<UTC stamp>, then -2, -3 ... for runs started in the same second (journal/writer.py)
_STAMPED = r"-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?"


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A report directory whose run did not reach its end."""

    directory: Path
    holder: str | None = None  # the PID of the run still writing it, if one does


def find_unfinished(directory: Path, sha256: str) -> Unfinished | None:
    """The directory's run, if it is an unfinished `run` of the SOURCE with this sha256."""
    meta = run_meta(directory)
    if meta is None or meta.get("command") != Mode.RUN or meta.get("source_sha256") != sha256:
        return None
    if (directory / "summary.json").exists():
        return None
    return Unfinished(directory, holder(directory / INTERNAL / LOCK))


def newest_run(reports: Path, name: str, sha256: str) -> Path | None:
    """The newest report directory in `reports` of a `run` of the SOURCE (by sha256) whose
    default directory name starts with `name`."""
    pattern = re.compile(re.escape(name) + _STAMPED)
    try:
        candidates = [
            (m["stamp"], int(m["n"] or 1), p)
            for p in reports.iterdir()
            if (m := pattern.fullmatch(p.name)) and p.is_dir()
        ]
    except OSError:  # no reports folder yet (or none we may list): nothing to continue
        return None
    for _, _, directory in sorted(candidates, reverse=True):
        meta = run_meta(directory)
        if meta and meta.get("command") == Mode.RUN and meta.get("source_sha256") == sha256:
            return directory
    return None


def refuse_unfinished(source: str, sha256: str, directory: Path, chosen: bool, name: str) -> None:
    """Refuse (exit 2, nothing sent) a fresh run while the chosen report directory, or the
    newest run of this SOURCE (default directory name `name`-<time>) in the default reports
    folder, is unfinished."""
    if chosen:
        found = find_unfinished(directory, sha256)
        if found is not None:
            raise Refused(_chosen_line(source, found))
    newest = newest_run(default_dir(name, datetime.now(UTC)).parent, name, sha256)
    found = find_unfinished(newest, sha256) if newest is not None else None
    if found is None:
        return
    if found.holder is not None:
        raise Refused(
            f"{source}: a run of this SOURCE is still going in {found.directory} "
            f"(PID {found.holder}): wait for it to finish, or add --new-run to "
            "start another anyway"
        )
    raise Refused(
        f"{source}: an earlier run of this SOURCE did not finish ("
        f"{found.directory}: {STOPPED}); "
        f"to continue it: {_resume(source, found.directory)}; "
        "to start a new run instead: add --new-run"
    )


def _chosen_line(source: str, found: Unfinished) -> str:
    where = f"report directory {found.directory}"
    if found.holder is not None:
        return (
            f"{where} is in use by another offboard run (PID {found.holder}); wait for it to finish"
        )
    return (
        f"{where} holds an unfinished run of {source} ({STOPPED}); "
        f"to continue it: {_resume(source, found.directory)}; "
        "or choose a new --report-dir"
    )


def _resume(source: str, directory: Path) -> str:
    """The pasteable resume command (a resume reuses the run's recorded options)."""
    command = command_line(Mode.RUN, source, {}, "--resume", str(directory))
    return f"{command} (with the same input on stdin)" if source == "-" else command
