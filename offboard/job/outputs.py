"""The end of one job: everything people and machines see, computed from the journal.

The session's Totals were counted from the records the journal holds, in input
order, carried rows included; from them come, and only from them: the exit
code, summary.json, the terminal table or JSON summary event, the one-line
failure on stderr (printed under -q too: quiet silences success, never
failure), the pasteable hints, and the JobReport the metrics and the folder
runner read.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.job import Job, JobReport
from ..core.models import Mode, ReadBack
from ..journal.files import write_private
from ..report import summary as summaries
from ..report.lists import AFTER_LEAVING_FILE, Written, write_lists, write_people
from ..report.pagedata import PageData
from ..report.people_view import expansion_lines
from ..report.terminal import print_summary
from .background import Background
from .closing import ClosingFailed, unfinished
from .context import JobContext
from .ended import Ended
from .lines import login_lines, problem_line, stranded_line, warn_active
from .options import command_line, given, plan_options, summary_options


def finish(
    context: JobContext, ended: Ended, *, started: datetime, identity: str, duration: float
) -> JobReport:
    # The lists are written as soon as ordered.jsonl is flushed (from the records the
    # journal's writer kept, or the file); the journal's files are fsync'd and closed
    # meanwhile (about 40 ms of disk for 3,000 rows), and are on disk before summary.json,
    # the last of the report, is written.
    ordered = ended.report.flush()
    closing = Background(ended.report.close)
    try:
        return _finish(context, ended, ordered, closing, started, identity, duration)
    except BaseException as exc:
        # The close is over before anything is raised, and its error is not dropped.
        raised = unfinished(ended.report.directory, exc, closing.joined())
        if raised is exc:
            raise
        raise raised from None


def _finish(
    context: JobContext,
    ended: Ended,
    ordered: Path,
    closing: Background,
    started: datetime,
    identity: str,
    duration: float,
) -> JobReport:
    job, batch, planned = context.job, context.batch, context.planned
    settings, guarding, log = context.settings, context.guarding, context.log
    report, aborted = ended.report, ended.aborted
    directory = report.directory
    read = ended.read
    # The lists' fsyncs (the disk's time, ~20 ms for 3,000 rows) go on a thread while
    # people.csv is made; they are on disk, under their names, before summary.json.
    settling: list[Background] = []
    written = write_lists(
        directory,
        report.header,
        ordered,
        job.mode,
        read.verdicts if read else {},
        report.kept(),
        on_disk=lambda settle: settling.append(Background(settle)),
    )
    totals = written.totals
    listing = ended.prepared.directory
    # the accounts' names as the user list showed them, the read-back's first: an account a
    # person was given during the run is named there only
    names = {**(read.names if read else {}), **(listing.names if listing else {})}
    try:
        people = write_people(
            directory,
            written.people,
            ended.prepared.people,
            names,
            read.after if read else None,
            job.mode,
        )
    except BaseException as exc:
        for failed in (lists.joined() for lists in settling):  # not lost: said after the first
            if failed is not None:
                exc.add_note(f"and the lists could not be written: {failed!r}")
        raise
    for lists in settling:
        lists.wait()
    after = written.login_counts["after_leaving"]
    # A plan with a login after leaving needs a person before it is run. A run keeps its
    # code: 1 means "a leaver may still have access", and the folder inbox would keep the
    # job open (retrying it) for a login that no retry can change.
    incident = job.mode is Mode.PLAN and after > 0
    # A person named everywhere who still reaches an account has not left (a plan: would
    # not leave); one named by pairs was scoped on purpose, and only reported.
    settled = totals.all_settled and not incident and not people.stranded
    exit_code = 3 if aborted else (0 if settled else 1)
    summary = summaries.build(
        mode=job.mode,
        run_id=log.run_id,
        totals=totals,
        exit_code=exit_code,
        started=started,
        source=batch.source if not planned else job.source,
        source_sha256=identity,
        plan={"path": job.source, "sha256": planned.sha256} if planned else None,
        aborted=aborted,
        revocations=ended.prepared.sending,
        key_user=ended.prepared.key_user,
        options=summary_options(job, settings, guarding),
        resumed=ended.carried,
    )
    summary |= people.to_summary()
    summary |= _verification(job, read, written)
    summary |= _key_user(ended)
    active_days = guarding.active_days
    summary["logins"] = {**written.login_counts, "active_days": active_days}
    if (failed := closing.joined()) is not None:
        raise ClosingFailed(failed)
    write_private(
        directory / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    )
    commands = _commands(job, directory, written)
    _write_pages(
        directory,
        PageData(
            summary,
            written.accounts,
            written.deleted,
            written.needing,
            written.more,
            written.files,
            commands,
            list(report.carried.values()),
            written.logins,
            written.signed_in,
            written.not_seen,
            people=people.shown,
            people_n=people.people,
            expansions=written.people.expansions,
            expansions_n=written.people.expansions_n,
            everywhere=context.everywhere,
            account_names=names,
        ),
    )
    log.summary({**summary, "report_dir": str(directory)})
    if log.verbosity >= 0 and not log.json:
        if sys.stdout.isatty():  # a person at a terminal: the page, as text
            sys.stdout.write((directory / "summary.txt").read_text(encoding="utf-8"))
        else:
            lines = login_lines(written)  # the leavers still signing in
            if job.mode is Mode.PLAN:  # each * row's expansion, as the plan's pages show it
                lines = expansion_lines(written.people) + lines
            print_summary(
                totals,
                directory,
                exit_code,
                aborted,
                lines,
                title=job.source,
                first=context.everywhere,
            )
    if job.mode is Mode.PLAN and not aborted:
        if "run_plan" in commands:
            log.hint("To run exactly this plan", commands["run_plan"])
        else:  # `run PLAN.json` would refuse it: the rows it was made from are gone
            log.warn(
                "no plan to run: a plan made from stdin cannot be checked "
                "against its rows by `offboard run PLAN.json`; save the rows to a file "
                "and plan that file"
            )
    warn_active(job, written, active_days, log)
    problem = problem_line(job, totals.counts, exit_code, aborted, directory)
    if people.stranded and exit_code == 1:
        line = stranded_line(people, job.mode, directory)
        problem = f"{problem}; {line}" if problem else f"{job.source}: {line}"
    if after:
        # Never silenced (-q included): someone used a leaver's access.
        line = (
            f"{after} row{'' if after == 1 else 's'}: their user signed in after their "
            "leave_date, a possible "
            f"security incident: see {directory}/{AFTER_LEAVING_FILE}"
        )
        if exit_code == 1:
            problem = f"{problem}; {line}" if problem else f"{job.source}: {line}"
        elif exit_code == 0:
            log.error(f"{job.source}: {line}", exit_code=exit_code, report_dir=str(directory))
    if problem:
        log.error(problem, exit_code=exit_code, report_dir=str(directory))
    return JobReport(
        batch.name,
        job.source,
        exit_code,
        problem,
        directory,
        dict(totals.counts),
        totals.open_rows,
        totals.users_deleted,
        duration,
        ended.statuses,
        ended.retries,
        after,
    )


def _key_user(ended: Ended) -> dict[str, Any]:
    """Who the key belongs to, by email, when the user list says (the audit record)."""
    directory, key_user = ended.prepared.directory, ended.prepared.key_user
    person = directory.people.get(key_user) if directory and key_user is not None else None
    return {"key_user_email": person.email} if person else {}


def _verification(job: Job, read: ReadBack | None, written: Written) -> dict[str, Any]:
    """What summary.json says about the read-back."""
    if job.mode is not Mode.RUN:
        return {}
    if job.no_verify:
        return {"verified": "off"}
    if read is None:
        return {"verified": "not read back (the run was aborted)"}
    failed = sum(1 for v in read.verdicts.values() if v.get("verified") is False)
    return {
        "verified": "on",
        "verify_method": read.method or None,
        "verify_requests": read.requests,
        "verify_contradicted": failed,
    }


def _commands(job: Job, directory: Path, written: Written) -> dict[str, str]:
    """The commands the pages and hints offer, each pasteable as printed."""
    commands = {"resume": command_line(Mode.RUN, job.source, {}, "--resume", str(directory))}
    if job.mode is Mode.PLAN and job.source != "-":
        commands["run_plan"] = command_line(Mode.RUN, f"{directory}/plan.json", plan_options(job))
    if "token_blocked.csv" in written.files and written.totals.counts["token_blocked"]:
        where = {
            k: v for k, v in given(job).items() if k in ("base_url", "api_key_file", "sandbox")
        }
        commands["delete_tokens"] = command_line(
            Mode.RUN, f"{directory}/token_blocked.csv", where, "--delete-tokens"
        )
    return commands


def _write_pages(directory: Path, data: PageData) -> None:
    from ..report.pages import render_html, render_text  # Jinja2 only when a report is written

    write_private(directory / "report.html", render_html(data))
    write_private(directory / "summary.txt", render_text(data))
