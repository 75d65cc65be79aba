"""One `run` or `plan` of one SOURCE, start to finish.

    Job --read_source / read_plan--> Batch (+ Plan) --settings--> Settings, Guarding
    resume:   the options recorded in run.json are reused (job/options.py)
    lock:     the job file and the report directory (one run each at a time; `plan`
              takes no lock in the job's folder: it changes nothing there)
    session:  prepare, decide, execute, every row journaled       (job/session.py);
              a batch without rows has nothing to send: no session (job/ended.py)
    outputs:  report files, summary, the lines people see, the JobReport (job/outputs.py)

Everything that can refuse the run happens before any DELETE is sent, and a
refused run leaves no report directory behind.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import Refused, SettingsError
from ..core.job import Job, JobReport, Seams
from ..core.locks import exclusive
from ..core.models import Mode
from ..core.settings import Settings, merge, merge_guards
from ..journal.layout import LOCK, check_dir, default_dir, internal, make_dir, stamp
from ..journal.reader import Previous, read_previous
from ..journal.writer import Report
from ..plan.planfile import Plan, check_source_unchanged, read_plan
from ..report.logs import Log
from ..report.summary import iso
from ..source.read import Batch, read_source
from .context import JobContext
from .ended import Ended, no_rows
from .options import given, restore
from .target import check_target, connect
from .unfinished import refuse_unfinished

YOUNG = 20_000  # new objects between two young collections while a job runs


def run_one(job: Job, seams: Seams, log: Log | None = None) -> JobReport:
    """One SOURCE. Raises Refused (exit 2) before anything is sent."""
    began = time.monotonic()
    log = log or Log(job.log_format, job.verbosity, job.run_id)
    if job.resume and job.new_run:
        raise SettingsError("--new-run starts a new run and --resume continues one: choose one")
    planned = _read_plan(job)
    batch = read_source(planned.source if planned else job.source, seams.stdin)
    if planned:
        check_source_unchanged(planned, batch.sha256)
    if batch.sandbox is not None and not job.sandbox:
        raise Refused(
            f"{batch.source} has a sandbox: world, so it is a sandbox job: "
            "run it with --sandbox (it must never reach the real API)"
        )
    identity = planned.sha256 if planned else batch.sha256
    previous = read_previous(Path(job.resume), identity) if job.resume else None
    if previous is not None and previous.options is not None:
        assert job.resume is not None
        job = restore(job, previous.options, job.resume)
    numbers = merge(batch.settings, job.numbers, batch.source)
    guarding = merge_guards(
        batch.settings,
        job.protect,
        job.max_revocations,
        job.delete_tokens,
        batch.source,
        job.active_days,
    )
    started = datetime.now(UTC)
    if job.resume:
        directory = Path(job.resume)
    else:
        chosen = _report_dir(job, batch, started)
        if job.mode is Mode.RUN and not job.new_run:  # a plan never resumes: never blocked
            refuse_unfinished(job.source, identity, *chosen, batch.name)
        directory = check_dir(*chosen)
    target = check_target(job, batch, seams.environ)
    rows = len(planned.actions) if planned else batch.row_count
    with ExitStack() as stack:
        if batch.job_file and job.mode is Mode.RUN:
            lock = batch.base_dir / f".{Path(batch.source).name}.lock"
            stack.enter_context(exclusive(lock, f"job {batch.source}"))
        meta = _run_meta(job, batch, planned, log.run_id)
        fresh = not directory.exists()
        if fresh:
            report = Report.create(directory, batch.columns, meta)
        else:
            make_dir(directory)
            report = Report(directory, batch.columns)
        stack.enter_context(exclusive(internal(directory) / LOCK, f"report directory {directory}"))
        if not fresh and (previous is None or previous.options is None):
            report.write_meta(meta)
        try:
            with connect(target) as (base_url, api_key), _young_collections_rarer():
                settings = Settings(base_url=base_url, api_key=api_key, **numbers)
                context = JobContext(job, batch, planned, settings, guarding, log)
                if rows:
                    ended = _session(context, previous=previous, report=report, seams=seams)
                else:
                    ended = no_rows(job, batch, report, previous)
        except Refused:
            if fresh:  # nothing was sent: leave no report behind
                shutil.rmtree(directory, ignore_errors=True)
            raise
        # Imported at the finish: the report's modules are not on the way to the first
        # request (a session's prefetch loads them while it waits on the network).
        from .outputs import finish

        with _young_collections_rarer():
            return finish(
                context,
                ended,
                started=started,
                identity=identity,
                duration=time.monotonic() - began,
            )


@contextmanager
def _young_collections_rarer() -> Iterator[None]:
    """The collector's young generation passes every YOUNG new objects, not CPython's 700,
    and as before afterwards. A run of 3,000 rows makes hundreds of thousands of short-lived
    dicts (records, answers, cells): at 700 (measured on a loaded machine, the process's
    collections counted from its start) 240 young passes promoted enough of them that 21
    middle passes and a full one walked them again, 90-170 ms in all; at YOUNG, 75 ms (4
    middle passes, no full one). Garbage in cycles waits for at most YOUNG new objects."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _session(
    context: JobContext, *, previous: Previous | None, report: Report, seams: Seams
) -> Ended:
    # Imported here: a batch without rows needs neither the event loop nor the HTTP client.
    import anyio

    from .session import Session

    session = Session(context, previous=previous, report=report, seams=seams)
    # What exists now (the modules, the batch's options) lives as long as the run: out of
    # the collector's full passes, which would otherwise walk it a few times a run.
    gc.freeze()
    return anyio.run(session.run)


def _read_plan(job: Job) -> Plan | None:
    if not job.source.lower().endswith(".json"):
        return None
    if job.mode is Mode.PLAN:
        raise SettingsError(f"{job.source}: `plan` takes a SOURCE (.csv, .yaml), not a plan")
    return read_plan(Path(job.source), datetime.now(UTC))


def _run_meta(job: Job, batch: Batch, planned: Plan | None, run_id: str) -> dict[str, object]:
    return {
        "command": str(job.mode),  # the public "run" / "plan"
        "source": job.source,
        "source_sha256": planned.sha256 if planned else batch.sha256,
        "run_id": run_id,
        "started_at": iso(datetime.now(UTC)),
        "options": given(replace(job, resume=None)),
    }


def _report_dir(job: Job, batch: Batch, started: datetime) -> tuple[Path, bool]:
    """Where the report goes, and whether the person chose it."""
    if job.report_dir is not None:
        return Path(job.report_dir), True
    chosen = batch.settings.get("report_dir")
    if chosen is not None:
        if not isinstance(chosen, str) or not chosen.strip():
            raise SettingsError(f"{batch.source}: report_dir: must be a directory path")
        # Relative to the job file, so a cron job's reports do not depend on its cwd.
        if job.mode is Mode.PLAN:  # a plan never takes the directory its run will use
            return Path(f"{batch.base_dir / chosen}-plan-{stamp(started)}"), False
        return batch.base_dir / chosen, True
    suffix = "-plan" if job.mode is Mode.PLAN else ""
    return default_dir(batch.name + suffix, started), False
