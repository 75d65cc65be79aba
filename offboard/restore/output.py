"""What a restore shows: the prompt's text, and the lines at the end (text) or the events
(json).

The prompt's text (`question`) is asked through job/prompt.py, as a run's question is.
Text: each row's plan or result on stdout, the counts; on failure the counts on stderr (under
-q too) and, after an abort, the `--resume` command. JSON (--log-format json): every settled
row was an event already (logs.Log.restored); here a summary event, an error event when the
exit code is not 0, and a hint event with the resume command; nothing on stdout.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ..report.logs import Log
from .plan import Step
from .report import result_lines


def plan_line(item: Step) -> str:
    r = item.revoked
    what = str(item.outcome) if item.outcome is not None else "would_restore"
    tokens = "".join(
        f"; API token {t.get('name') or t.get('id')} ({t.get('role') or 'role ?'}"
        f", expires {t.get('expires') or 'never'}) is gone for good"
        for t in r.tokens
    )
    return f"row {r.row}: {r.email} account {r.account}: {what}: {item.message}{tokens}"


def summary_line(counts: Mapping[str, int], directory: Path, plan: bool) -> str:
    shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    what = "restore plan" if plan else "restore"
    return f"{what}: {shown or 'nothing'}; report: {directory}/results.csv"


def show(
    log: Log,
    say: Callable[[str], None],
    *,
    code: int,
    plan: bool,
    steps: Sequence[Step],
    records: Mapping[Any, Mapping[str, Any]],
    counts: Mapping[str, int],
    directory: Path,
    resume: str,
) -> None:
    """The end of a restore, as the person asked to see it (see the module docstring)."""
    summary = summary_line(counts, directory, plan)
    if log.json:
        log.summary(
            {
                "command": "restore",
                "plan": plan,
                "rows": len(records),
                "counts": dict(counts),
                "exit_code": code,
                "aborted": code == 3,
                "report_dir": str(directory),
            }
        )
        if code:
            log.error(summary, exit_code=code, report_dir=str(directory))
        if code == 3:
            log.hint("continue with", resume)
        return
    quiet = log.verbosity < 0
    if plan and not quiet:
        for item in steps:
            click.echo(plan_line(item))
    elif not quiet:
        for line in result_lines(records.values()):
            click.echo(line)
    if code:
        say(f"offboard: {summary}")
    if code == 3:
        say(f"offboard: continue with: {resume}")
    elif not quiet:
        click.echo(f"offboard: {summary}")


def resume_command(source: Path, directory: Path, base_url: str) -> str:
    return "offboard restore " + shlex.join(
        [str(source), "--resume", str(directory), "--base-url", base_url]
    )


def question(sending: Sequence[Step], steps: Sequence[Step]) -> str:
    """What a terminal is asked before the first invite: what is about to be sent, then
    "Proceed?" (asked through job/prompt.py, as a run's question; no: exit 2, nothing sent)."""
    new = len({s.revoked.user_id for s in sending if s.new_user})  # a person once, not per pair
    tokens = sum(len(s.revoked.tokens) for s in steps)
    lines = [f"Restore {len(sending)} access(es) (POST /iam/clients/invite_user):"]
    lines += [
        f"  row {s.revoked.row}: {s.revoked.email} -> account {s.revoked.account} as "
        f"{s.revoked.role_name}" + (" (a NEW user: they were deleted)" if s.new_user else "")
        for s in sending[:20]
    ]
    if len(sending) > 20:
        lines.append(f"  ... and {len(sending) - 20} more")
    if new:
        lines.append(
            f"{new} user(s) were deleted by the run: they get a fresh invitation "
            "with a new user ID."
        )
    if tokens:
        lines.append(
            f"{tokens} API token(s) the run deleted cannot come back: see "
            "tokens_gone.csv, and issue new ones."
        )
    lines.append("Proceed?")
    return "\n".join(lines)
