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

from . import summary as summaries
from .job import Job, JobReport
from .logs import Log
from .models import Outcome
from .options import command_line, given
from .pagedata import PageData
from .planfile import Plan
from .report import write_private
from .report_files import Written, write_lists
from .session import Ended
from .settings import Guarding, Settings
from .source import Batch
from .terminal import print_summary
from .verify import ReadBack


def finish(job: Job, batch: Batch, planned: Plan | None, ended: Ended, settings: Settings,
           guarding: Guarding, log: Log, started: datetime, identity: str,
           duration: float) -> JobReport:
    report, aborted = ended.report, ended.aborted
    directory = report.directory
    ordered = report.close()
    read = ended.read
    written = write_lists(directory, report.header, ordered, job.command,
                          read.verdicts if read else {})
    totals = written.totals
    exit_code = 3 if aborted else (0 if totals.all_settled else 1)
    summary = summaries.build(
        command=job.command, run_id=log.run_id, totals=totals, exit_code=exit_code,
        started=started, source=batch.source if not planned else job.source,
        source_sha256=identity,
        plan={"path": job.source, "sha256": planned.sha256} if planned else None,
        aborted=aborted, revocations=ended.prepared.sending,
        key_user=ended.prepared.key_user, options=_options(job, settings, guarding),
        resumed=ended.carried)
    summary |= _verification(job, read, written)
    summary |= _key_user(ended)
    write_private(directory / "summary.json",
                  json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    commands = _commands(job, directory, written)
    _write_pages(directory, PageData(summary, written.accounts, written.deleted,
                                     written.needing, written.more, written.files, commands,
                                     list(report.carried.values())))
    log.summary({**summary, "report_dir": str(directory)})
    if log.verbosity >= 0 and not log.json:
        if sys.stdout.isatty():  # a person at a terminal: the page, as text
            sys.stdout.write((directory / "summary.txt").read_text(encoding="utf-8"))
        else:
            print_summary(totals, directory, exit_code, aborted)
    if job.command == "plan" and not aborted:
        log.hint("To run exactly this plan", commands["run_plan"])
    problem = _problem(job, totals.counts, exit_code, aborted, directory)
    if problem:
        log.error(problem, exit_code=exit_code, report_dir=str(directory))
    return JobReport(batch.name, job.source, exit_code, problem, directory,
                     dict(totals.counts), totals.open_rows, totals.users_deleted, duration,
                     ended.statuses, ended.retries)


def _key_user(ended: Ended) -> dict[str, Any]:
    """Who the key belongs to, by email, when the user list says (the audit record)."""
    directory, key_user = ended.prepared.directory, ended.prepared.key_user
    person = directory.people.get(key_user) if directory and key_user is not None else None
    return {"key_user_email": person.email} if person else {}


def _verification(job: Job, read: ReadBack | None, written: Written) -> dict[str, Any]:
    """What summary.json says about the read-back."""
    if job.command != "run":
        return {}
    if job.no_verify:
        return {"verified": "off"}
    if read is None:
        return {"verified": "not read back (the run was aborted)"}
    failed = sum(1 for v in read.verdicts.values() if v.get("verified") is False)
    return {"verified": "on", "verify_method": read.method or None,
            "verify_requests": read.requests, "verify_contradicted": failed}


def _commands(job: Job, directory: Path, written: Written) -> dict[str, str]:
    """The commands the pages and hints offer, each pasteable as printed."""
    commands = {"resume": command_line("run", job.source, {}, "--resume", str(directory))}
    if job.command == "plan":
        commands["run_plan"] = command_line("run", f"{directory}/plan.json", _plan_options(job))
    if "token_blocked.csv" in written.files and written.totals.counts["token_blocked"]:
        where = {k: v for k, v in given(job).items()
                 if k in ("base_url", "api_key_file", "sandbox")}
        commands["delete_tokens"] = command_line(
            "run", f"{directory}/token_blocked.csv", where, "--delete-tokens")
    return commands


def _write_pages(directory: Path, data: PageData) -> None:
    from .pages import render_html, render_text  # Jinja2 only when a report is written

    write_private(directory / "report.html", render_html(data))
    write_private(directory / "summary.txt", render_text(data))


def _problem(job: Job, counts: dict[str, int], exit_code: int, aborted: str,
             directory: object) -> str:
    """The line that says why the exit code is not 0, and where to look ('' for 0)."""
    report = f"report: {directory}/results.csv"
    if exit_code == 3:
        resume = command_line("run", job.source, {}, "--resume", str(directory))
        return f"{job.source}: aborted: {aborted}; {report}; to continue: {resume}"
    if exit_code == 1:
        open_ = {o: n for o, n in counts.items() if n and not Outcome(o).settled}
        listed = ", ".join(f"{n} {o}" for o, n in open_.items())
        left = "; their leavers may still have access" if job.command == "run" else ""
        return f"{job.source}: {sum(open_.values())} rows need a person ({listed}){left}; {report}"
    return ""


def _plan_options(job: Job) -> dict[str, Any]:
    """The plan's own options that a run of it needs (where, with which key, the cap)."""
    return {k: v for k, v in given(job).items()
            if k in ("base_url", "api_key_file", "sandbox", "max_revocations", "protect",
                     "rate", "concurrency", "max_attempts", "timeout",
                     "max_consecutive_failures")}


def _options(job: Job, settings: Settings, guarding: Guarding) -> dict[str, Any]:
    return {
        **{k: getattr(settings, k) for k in ("rate", "concurrency", "max_attempts",
                                             "timeout", "max_consecutive_failures",
                                             "base_url")},
        "sandbox": job.sandbox,
        "max_revocations": guarding.max_revocations,
        "delete_tokens": guarding.delete_tokens,
        "protect": [*sorted(map(str, guarding.protection.ids)),
                    *sorted(guarding.protection.emails)],
        "yes": job.yes,
        "resume": job.resume,
    }
