"""The lines a run says about itself on the terminal and on stderr: why the exit code is not
0 (the rows that need a person, the persons named everywhere who still reach an account), and
the leavers still signing in. Computed from what job/outputs.py counted, never from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from ..core.job import Job
from ..core.models import Mode, Outcome
from ..core.words import account_words
from ..report.lists import Written
from ..report.logs import Log
from ..report.people import PEOPLE_FILE, Verdict
from .options import command_line


def stranded_line(people: Verdict, mode: Mode, directory: Path) -> str:
    """Who, named everywhere, still reaches an account, and which: the exit code's reason."""
    listed = ", ".join(
        f"{line['email'] or line['user_id']} ("
        + ", ".join(account_words(a["id"], a["name"]) for a in line["still_reaches"])
        + ")"
        for line in people.named
    )
    more = (
        f" and {people.stranded - len(people.named)} more"
        if people.stranded > len(people.named)
        else ""
    )
    n = people.stranded
    who = "1 person named everywhere" if n == 1 else f"{n} people named everywhere"
    verb = "still reaches" if n == 1 else "still reach"
    if mode is Mode.PLAN:
        verb = "would still reach"
    return f"{who} {verb} an account: {listed}{more}; see {directory}/{PEOPLE_FILE}"


def login_lines(written: Written) -> list[str]:
    """The terminal table's lines about leavers still signing in, from the records."""
    lines = []
    for flag, heading in (
        ("after_leaving", "Signed in after leaving (possible security incident)"),
        ("active", "Signed in recently, with no leave_date (warning)"),
    ):
        if written.login_counts[flag]:
            lines.append(f"{heading}: {written.login_counts[flag]}")
            for r in written.logins[flag][:20]:
                login = r["login"]
                lines.append(
                    f"  row {r['row']}: account {r['account']} user {r['user']}: "
                    f"{login.get('login_at')} from {login.get('ip_address') or '?'}"
                    + (f", leave_date {login['leave_date']}" if login.get("leave_date") else "")
                )
    unknown = written.logins.get("unknown")
    if unknown:
        lines.append(
            f"Login activity unknown for {written.login_counts['unknown']} rows: "
            f"{unknown[0]['login'].get('note', '')}"
        )
    return lines


def warn_active(job: Job, written: Written, days: int, log: Log) -> None:
    """One warning for rows without a leave_date whose user signed in lately."""
    count = written.login_counts["active"]
    if not count:
        return
    rows = ", ".join(
        f"row {r['row']} ({r['login'].get('login_at')})" for r in written.logins["active"][:10]
    )
    more = f" and {count - 10} more" if count > 10 else ""
    log.warn(
        f"warning: {job.source}: {count} row{'' if count == 1 else 's'} without a "
        "leave_date: their user signed in "
        f"within the last {days} days (is it the right person?): {rows}{more}"
    )


def problem_line(
    job: Job, counts: dict[str, int], exit_code: int, aborted: str, directory: object
) -> str:
    """The line that says why the exit code is not 0, and where to look ('' for 0)."""
    report = f"report: {directory}/results.csv"
    if exit_code == 3:
        resume = command_line(Mode.RUN, job.source, {}, "--resume", str(directory))
        return f"{job.source}: aborted: {aborted}; {report}; to continue: {resume}"
    open_ = {o: n for o, n in counts.items() if n and not Outcome(o).settled}
    if exit_code == 1 and open_:
        listed = ", ".join(f"{n} {o}" for o, n in open_.items())
        left = "; their leavers may still have access" if job.mode is Mode.RUN else ""
        n = sum(open_.values())
        rows = "1 row needs" if n == 1 else f"{n} rows need"
        return f"{job.source}: {rows} a person ({listed}){left}; {report}"
    return ""
