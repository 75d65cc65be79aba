"""A folder of job files: which files are jobs, and `plan` over all of them.

Jobs are the folder's `.yaml`/`.yml` job files and its `.csv` files, except a
CSV that a job file in the folder reads as its `input:` (that one runs as part
of its job, never twice). Every other file is named: not a job file, or a
sandbox job when the run is not against the sandbox, or unreadable. Files
whose name starts with a dot are offboard's own (state, locks) and are not
named.

This module never writes anything into the folder: `plan` on a folder uses
only what is here, so it cannot reach the inbox state (inbox/run.py, inbox/state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import OffboardError, SettingsError, SourceError
from ..core.fs import reason
from ..core.job import Job, JobReport, Seams
from ..report.logs import Log
from ..source.read import YAML_SUFFIXES, Batch, read_source

JOB_SUFFIXES = (*YAML_SUFFIXES, ".csv")
# Why a file in the folder is not run (the metrics' `reason` label).
NOT_A_JOB, UNREADABLE, SANDBOX_ONLY = "not_a_job_file", "unreadable", "sandbox_only"


@dataclass(frozen=True, slots=True)
class Found:
    """A job file to run (batch set), or a file that is not run (reason set)."""

    path: Path
    batch: Batch | None = None
    reason: str = ""
    message: str = ""


def discover(folder: Path, sandbox: bool) -> list[Found]:
    """Every file of the folder, in name order, read and classified."""
    try:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise SourceError(f"{folder}: cannot read the jobs folder: {reason(exc)}") from None
    found: dict[Path, Found] = {}
    inputs: set[Path] = set()
    for path in entries:
        try:
            a_folder = path.is_dir()
        except OSError as exc:
            found[path] = Found(
                path, reason=UNREADABLE, message=f"{path}: cannot read: {reason(exc)}"
            )
            continue
        if a_folder or path.suffix.lower() not in JOB_SUFFIXES:
            kind = "a folder" if a_folder else "not a job file (.yaml, .yml or .csv)"
            found[path] = Found(path, reason=NOT_A_JOB, message=f"{path}: not run: {kind}")
            continue
        try:
            batch = read_source(str(path))
        except SourceError as exc:
            found[path] = Found(path, reason=UNREADABLE, message=str(exc))
            continue
        if batch.input_path is not None:
            inputs.add(batch.input_path.resolve())
        if batch.sandbox is not None and not sandbox:
            found[path] = Found(
                path,
                reason=SANDBOX_ONLY,
                message=(
                    f"{path}: not run: a sandbox job (it has a sandbox: world); "
                    "run the folder with --sandbox to run it"
                ),
            )
            continue
        found[path] = Found(path, batch)
    # A CSV some job reads is that job's input, not a job of its own.
    return [
        f
        for f in found.values()
        if f.path.resolve() not in inputs or f.batch is None or f.batch.job_file
    ]


def check_folder_job(job: Job) -> None:
    if job.new_run:
        raise SettingsError(
            "--new-run does not apply to a jobs folder: each job keeps its own "
            "report, and interrupted jobs resume by themselves"
        )
    if job.resume or job.report_dir:
        raise SettingsError(
            "--resume and --report-dir do not apply to a jobs folder: each job "
            "keeps its own report, and interrupted jobs resume by themselves"
        )


def name_the_rest(found: list[Found], log: Log) -> dict[str, int]:
    """Say on stderr (at every verbosity) each file that is not run; count them by reason."""
    counts: dict[str, int] = {}
    for entry in found:
        if entry.batch is None:
            log.for_job(entry.path.stem).error(
                entry.message, file=str(entry.path), reason=entry.reason
            )
            counts[entry.reason] = counts.get(entry.reason, 0) + 1
    if not found:
        log.error("the jobs folder holds no job files (.yaml, .yml or .csv): nothing to do")
    return counts


def named(path: Path, exc: OffboardError) -> str:
    """A job's error line, naming its file once (most refusals already start with it)."""
    text = str(exc)
    return text if text.startswith(f"{path}:") else f"{path}: {text}"


def plan_folder(
    job: Job, seams: Seams, log: Log, run_one: Callable[[Job, Seams, Log], JobReport]
) -> tuple[list[JobReport], dict[str, int]]:
    """`plan` every job of the folder, each into its own plan report; nothing else."""
    check_folder_job(job)
    found = discover(Path(job.source), job.sandbox)
    not_run = name_the_rest(found, log)
    reports = []
    for entry in found:
        if entry.batch is None:
            if entry.reason == UNREADABLE:  # exits as `run DIR` would: 2
                reports.append(JobReport(entry.path.stem, str(entry.path), 2, entry.message))
            continue
        job_log = log.for_job(entry.batch.name)
        try:
            reports.append(run_one(replace(job, source=str(entry.path)), seams, job_log))
        except OffboardError as exc:
            job_log.error(named(entry.path, exc), exit_code=exc.exit_code)
            reports.append(JobReport(entry.batch.name, str(entry.path), exc.exit_code, str(exc)))
    return reports, not_run
