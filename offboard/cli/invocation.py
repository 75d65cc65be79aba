"""One invocation of `offboard run` or `plan`: one SOURCE, or every job of a folder.

    cli/main.py -> cli/invocation.py -> inbox/run.py (run a folder) -> job/run.py (one job)
                            -> inbox/folder.py (plan a folder)  -> job/run.py

Here the JobReports of all the jobs come together: the exit code (the worst
of them) and the metrics file, which every `run` rewrites, whatever happened
(a refused job, a folder with nothing to do), so an alert on it is never stale.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import OffboardError, SourceError
from ..core.fs import reason
from ..core.job import Job, JobReport, Seams
from ..core.models import Mode
from ..job.run import run_one
from ..report.logs import Log

if TYPE_CHECKING:
    from ..report.metrics import JobMetrics


def run(job: Job, seams: Seams | None = None) -> int:
    """Run or plan the batch (or every job of a jobs/ folder); returns the exit code."""
    seams = seams or Seams.of_this_process()
    log = Log(job.log_format, job.verbosity, job.run_id)
    if job.metrics_file and job.mode is Mode.RUN:
        from ..report.metrics import check_writable

        check_writable(Path(job.metrics_file))  # before anything is sent, not after
    name = Path(job.source).stem
    try:
        # a SOURCE refused here (unreadable, or by its one job) still rewrites the metrics file
        report = None if _is_folder(job.source) else run_one(job, seams, log.for_job(name))
    except OffboardError as exc:
        refused = JobReport(name, job.source, exc.exit_code, str(exc))
        _write_metrics(job, [refused], exc.exit_code, {}, log)
        raise
    if report is not None:
        _write_metrics(job, [report], report.exit_code, {}, log)
        return report.exit_code
    if job.mode is Mode.PLAN:
        # Each folder's module only for a folder: a run of one file reaches its first
        # request sooner without them (tests/test_run_imports.py).
        from ..inbox.folder import plan_folder

        reports, not_run = plan_folder(job, seams, log, run_one)
    else:
        from ..inbox.run import run_folder

        reports, not_run = run_folder(job, seams, log)
    exit_code = max((r.exit_code for r in reports), default=0)
    _write_metrics(job, reports, exit_code, not_run, log)
    if reports:
        _write_index(job, reports, log)
    return exit_code


def _is_folder(source: str) -> bool:
    """Whether SOURCE is a jobs folder; a path the OS will not stat is an unreadable SOURCE."""
    if source == "-":
        return False
    try:
        return Path(source).is_dir()
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {reason(exc)}") from None


def _write_index(job: Job, reports: list[JobReport], log: Log) -> None:
    """A folder run's index page: every job that ran, its exit code, a link to its page."""
    from datetime import UTC, datetime

    from ..journal.files import write_private
    from ..journal.layout import default_dir
    from ..report.pagedata import JobLink
    from ..report.pages import render_index

    finished = datetime.now(UTC)
    folder = Path(job.source).resolve().name or "jobs"
    stem = default_dir(f"{folder}-{job.mode}", finished)
    page = stem.with_name(stem.name + ".html")
    try:
        page.parent.mkdir(parents=True, exist_ok=True)
        links = [
            JobLink(
                r.name,
                r.source,
                r.exit_code,
                r.problem,
                os.path.relpath(r.directory / "report.html", page.parent)
                if r.directory is not None
                else "",
                dict(r.counts),
            )
            for r in reports
        ]
        write_private(
            page,
            render_index(
                links,
                f"offboard {job.mode} {job.source}",
                job.run_id,
                finished.isoformat(timespec="seconds"),
            ),
        )
    except OSError as exc:
        log.error(f"{page}: the folder's index page could not be written ({exc.strerror})")
        return
    log.warn(f"folder index: {page}")


def _write_metrics(
    job: Job, reports: list[JobReport], exit_code: int, not_run: dict[str, int], log: Log
) -> None:
    if not job.metrics_file or job.mode is not Mode.RUN:  # plan changes nothing, metrics included
        return
    from ..report.metrics import JobMetrics, write_metrics

    jobs = [
        JobMetrics(
            r.name,
            r.counts,
            r.open_rows,
            r.exit_code,
            r.duration,
            r.users_deleted,
            r.requests,
            r.retries,
            r.logins_after_leaving,
        )
        for r in reports
    ]
    try:
        write_metrics(
            Path(job.metrics_file),
            _unique(jobs),
            exit_code=exit_code,
            nothing_open=all(r.exit_code == 0 for r in reports),
            now=time.time(),
            files_not_run=not_run,
        )
    except OSError as exc:  # checked writable at the start: a full disk, say
        log.error(
            f"--metrics-file {job.metrics_file}: cannot write: {reason(exc)}", exit_code=exit_code
        )


def _unique(jobs: list[JobMetrics]) -> list[JobMetrics]:
    """Two jobs of one name (a.yaml and a.csv) keep apart as `a` and `a (2)`."""
    seen: dict[str, int] = {}
    out = []
    for metric in jobs:
        seen[metric.job] = seen.get(metric.job, 0) + 1
        out.append(
            metric
            if seen[metric.job] == 1
            else replace(metric, job=f"{metric.job} ({seen[metric.job]})")
        )
    return out
