"""`offboard run jobs/`: a folder of job files as a cron inbox, on top of the single-job runner.

Every job of the folder (inbox/folder.py says which files are jobs) runs in turn,
each with its own report. A job whose rows all settled is finished and skipped
until its file changes; a job with rows that still hold access stays open, and
each later run resumes its report, so exactly those rows are retried (the
journal knows which) and reported again; an interrupted job is resumed. To
close an open job by hand, move its file out of the folder. The exit code is
the worst of the jobs'.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import OffboardError
from ..core.job import Job, JobReport, Seams
from ..core.locks import exclusive
from ..job.run import run_one
from ..journal.layout import check_dir, default_dir
from ..report.logs import Log
from ..source.read import Batch
from .folder import UNREADABLE, check_folder_job, discover, name_the_rest, named
from .state import InboxState


def run_folder(job: Job, seams: Seams, log: Log) -> tuple[list[JobReport], dict[str, int]]:
    """Run every open job of the folder; the JobReports of those that ran, and the files
    that were not run, by reason."""
    check_folder_job(job)
    folder = Path(job.source)
    reports: list[JobReport] = []
    with exclusive(folder / ".offboard-inbox.lock", f"jobs folder {folder}"):
        state = InboxState(folder)
        found = discover(folder, job.sandbox)
        state.forget_missing({entry.path.name for entry in found if entry.batch is not None})
        not_run = name_the_rest(found, log)
        for entry in found:
            if entry.batch is None:
                if entry.reason == UNREADABLE:  # a job that could not even be read
                    reports.append(JobReport(entry.path.stem, str(entry.path), 2, entry.message))
                continue
            report = _run_job(
                job, seams, log.for_job(entry.batch.name), state, entry.path, entry.batch
            )
            if report is not None:
                reports.append(report)
    return reports, not_run


def _run_job(
    job: Job, seams: Seams, log: Log, state: InboxState, path: Path, batch: Batch
) -> JobReport | None:
    name = path.name
    done = state.finished(name, batch.sha256)
    if done is not None:
        log.warn(
            f"{path}: skipped: finished {done.get('finished_at')} (exit 0); "
            "edit the file to run it again"
        )
        return None
    resume = state.resumable(name, batch.sha256)
    directory = resume or str(_fresh_dir(batch))
    state.started(name, batch.sha256, directory)
    # The folder's state, not a search of the reports folder, says which run a job
    # continues (job/unfinished.py): new_run skips that search.
    one = replace(
        job,
        source=str(path),
        resume=resume,
        report_dir=None if resume else directory,
        new_run=resume is None,
    )
    try:
        report = run_one(one, seams, log)
    except OffboardError as exc:
        log.error(named(path, exc), exit_code=exc.exit_code)
        report = JobReport(batch.name, str(path), exc.exit_code, str(exc))
    state.ended(name, report.exit_code, resumed=resume is not None)
    return report


def _fresh_dir(batch: Batch) -> Path:
    chosen = batch.settings.get("report_dir")
    if isinstance(chosen, str) and chosen.strip():
        return Path(batch.base_dir) / chosen
    # Two jobs of one name in the same second get -2, -3, ...
    return check_dir(default_dir(batch.name, datetime.now(UTC)), False)
