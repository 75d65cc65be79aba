"""One `run` or `plan`, start to finish.

    Job --read_source / read_plan--> Batch (+ Plan) --settings--> Settings, Guarding
    prepare:  key's own user, user list -> [Action] (plan.py) -> guards (guards.py)
    decide:   cap, confirmation on a terminal          (refusals: exit 2, nothing sent)
    execute:  Revoker (run) or Previewer (plan) per row -> [Result]
    report:   files, summary.json (with the audit record), the table

Everything that can refuse the run happens before the report directory is made
or any DELETE is sent.
"""

from __future__ import annotations

import getpass
import os
import random
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import click
import httpx

from . import __version__
from .api import Api, DirectoryError, RequestNotSent, make_client
from .clock import Clock
from .directory import Directory
from .errors import Refused, SettingsError
from .execute import execute
from .guards import check_cap, doomed_users, hold_back, revocations
from .models import Action, Outcome, Result
from .plan import parse, plan
from .planfile import Plan, check_same_key_user, check_source_unchanged, plan_document, read_plan
from .preview import Previewer
from .report import Report, default_dir
from .revoke import Revoker
from .settings import (
    DEFAULT_BASE_URL,
    Guarding,
    Secret,
    Settings,
    check_base_url,
    merge,
    merge_guards,
    read_api_key,
)
from .source import Batch, read_source
from .terminal import print_summary, progress


@dataclass(frozen=True, slots=True)
class Job:
    """What the person asked for on the command line (None = not given)."""

    source: str
    command: str = "run"
    numbers: Mapping[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_file: str | None = None
    report_dir: str | None = None
    sandbox: bool = False
    yes: bool = False
    protect: tuple[str, ...] = ()
    max_revocations: int | None = None
    delete_tokens: bool = False


@dataclass(frozen=True, slots=True)
class Seams:
    """What tests replace: the process's streams, environment, transport and clock."""

    stdin: BinaryIO | None = None
    interactive: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock | None = None
    rng: random.Random | None = None
    confirm: Callable[[str], bool] = lambda text: click.confirm(text, default=False, err=True)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The rows as they will be sent, and what was learned to decide that."""

    actions: list[Action]
    key_user: int | None
    doomed: frozenset[int]
    directory_error: str


def run(job: Job, seams: Seams | None = None) -> int:
    """Run or plan the batch; returns the exit code. Raises Refused before anything is sent."""
    seams = seams or Seams(stdin=sys.stdin.buffer, interactive=sys.stdin.isatty())
    planned = _read_plan(job)
    batch = read_source(planned.source if planned else job.source, seams.stdin)
    if planned:
        check_source_unchanged(planned, batch.sha256)
    numbers = merge(batch.settings, job.numbers, batch.source)
    guarding = merge_guards(batch.settings, job.protect, job.max_revocations, job.delete_tokens,
                            batch.source)
    started = datetime.now(UTC)
    directory = Report.check_dir(*_report_dir(job, batch, started))
    with _target(job, batch, seams.environ) as (base_url, api_key):
        settings = Settings(base_url=base_url, api_key=api_key, **numbers)
        report, results, prepared, aborted = anyio.run(
            _session, job, batch, planned, settings, guarding, directory, seams)
    exit_code = 3 if aborted else (0 if all(r.outcome.settled for r in results) else 1)
    summary = _summary(job, batch, planned, settings, guarding, prepared, results, started,
                       exit_code, aborted)
    report.finish(results, summary)
    if job.command == "plan":
        report.write_file("plan.json", plan_document(
            results, source=batch.source, source_sha256=batch.sha256, created_at=started,
            created_by=_who(), key_user=prepared.key_user, doomed=prepared.doomed))
    print_summary(results, report.directory, exit_code, aborted)
    if job.command == "plan" and not aborted:
        click.echo(f"To run exactly this plan: offboard run {report.directory}/plan.json")
    return exit_code


async def _session(job: Job, batch: Batch, planned: Plan | None, settings: Settings,
                   guarding: Guarding, directory: Path, seams: Seams
                   ) -> tuple[Report, list[Result], Prepared, str]:
    async with make_client(settings, seams.transport) as client:
        api = Api(settings, client, seams.clock, seams.rng)
        prepared = await _prepare(api, batch, planned, guarding)
        if not api.abort_reason:
            await _decide(job, prepared, guarding, seams)
        report = Report.create(directory, batch.columns)
        work = Previewer(prepared.doomed) if job.command == "plan" else Revoker(
            guarding.delete_tokens)
        with progress(len(prepared.actions)) as advance:

            def settled(result: Result) -> None:
                report.add(result)
                advance(result)

            results = await execute(prepared.actions, api, settings.concurrency, work, settled)
    return report, results, prepared, api.abort_reason


async def _prepare(api: Api, batch: Batch, planned: Plan | None,
                   guarding: Guarding) -> Prepared:
    """Learn the key's user and the user list (reads only), then plan and guard the rows."""
    key_user: int | None = None
    directory: Directory | None = None
    directory_error = ""
    if not _may_send(batch, planned):  # nothing usable: no reason to call the API at all
        return Prepared(plan(batch.rows), None, frozenset(), "")
    try:
        key_user = await api.whoami()
        if planned is not None:
            check_same_key_user(planned, key_user)
        # A plan's rows are already resolved; the list is then only needed to match
        # protected emails.
        if planned is None or guarding.protection.emails:
            directory = await api.list_users()
    except (DirectoryError, RequestNotSent) as exc:
        directory_error = api.abort_reason or str(exc)
        if key_user is None:
            # Without the key's own user, the guard that protects it cannot hold.
            api.abort(f"cannot tell which user the API key belongs to: {directory_error}")
        elif guarding.protection.emails:
            api.abort(f"cannot check the protected emails: {directory_error}")
    actions = list(planned.actions) if planned else plan(batch.rows, directory, directory_error)
    protection = guarding.protection.merged_own(key_user)
    actions = hold_back(actions, protection, directory)
    if api.abort_reason:
        actions = [_unsent(a, api.abort_reason) for a in actions]
    doomed = planned.doomed if planned else doomed_users(actions, directory)
    return Prepared(actions, key_user, doomed, directory_error)


async def _decide(job: Job, prepared: Prepared, guarding: Guarding, seams: Seams) -> None:
    """The cap, then the person's confirmation on a terminal: both before any DELETE."""
    sending = revocations(prepared.actions)
    if job.command == "plan":
        if len(sending) > guarding.max_revocations:
            click.echo(f"offboard: note: `run` would refuse this batch: {len(sending)} "
                       f"revocations, cap {guarding.max_revocations} (--max-revocations)",
                       err=True)
        return
    check_cap(len(sending), guarding.max_revocations)
    if not sending or job.yes or not seams.interactive:
        return  # cron: no one to ask; the cap is the guard
    accounts = len({a.account for a in sending})
    people = len({a.user_id for a in sending})
    deleted = ("an unknown number (the user list was unreadable)"
               if prepared.directory_error else str(len(prepared.doomed)))
    question = (f"Revoke {len(sending)} accesses ({people} users in {accounts} accounts)? "
                f"Users who lose their last account and are deleted: {deleted}. Proceed?")
    if not await anyio.to_thread.run_sync(seams.confirm, question):
        raise Refused("not confirmed: nothing was sent")


def _may_send(batch: Batch, planned: Plan | None) -> bool:
    if planned is not None:
        return any(action.send for action in planned.actions)
    return any(not isinstance(parse(row), str) for row in batch.rows)


def _unsent(action: Action, reason: str) -> Action:
    """After an abort, a row that would have been sent (or resolved) was simply not sent."""
    if action.send or action.outcome is Outcome.FAILED:
        return Action(action.row, action.account, action.user_id, Outcome.NOT_ATTEMPTED,
                      f"not sent: {reason}")
    return action


def _read_plan(job: Job) -> Plan | None:
    if not job.source.lower().endswith(".json"):
        return None
    if job.command == "plan":
        raise SettingsError(f"{job.source}: `plan` takes a SOURCE (.csv, .yaml), not a plan")
    return read_plan(Path(job.source), datetime.now(UTC))


@contextmanager
def _target(job: Job, batch: Batch, environ: Mapping[str, str]) -> Iterator[tuple[str, Secret]]:
    """The base URL and key: the real API's, or an embedded sandbox's for --sandbox."""
    if not job.sandbox:
        if job.base_url is not None:
            base_url = check_base_url(job.base_url, "--base-url")
        elif environ.get("GCORE_BASE_URL"):
            base_url = check_base_url(environ["GCORE_BASE_URL"], "GCORE_BASE_URL")
        else:
            base_url = DEFAULT_BASE_URL
        yield base_url, read_api_key(job.api_key_file, environ)
        return
    if job.base_url is not None or job.api_key_file is not None:
        raise SettingsError("--sandbox brings its own URL and key: drop --base-url/--api-key-file")
    from .sandbox import Sandbox, SandboxError, demo_world, load_world

    try:
        world = (load_world(batch.sandbox, origin=f"{batch.source}: sandbox")
                 if batch.sandbox is not None else demo_world())
    except SandboxError as exc:
        raise SettingsError(str(exc)) from None
    with Sandbox(world, port=0) as sandbox:
        yield sandbox.url, Secret(sandbox.api_key)


def _report_dir(job: Job, batch: Batch, started: datetime) -> tuple[Path, bool]:
    """Where the report goes, and whether the person chose it."""
    if job.report_dir is not None:
        return Path(job.report_dir), True
    chosen = batch.settings.get("report_dir")
    if chosen is not None:
        if not isinstance(chosen, str) or not chosen.strip():
            raise SettingsError(f"{batch.source}: report_dir: must be a directory path")
        # Relative to the job file, so a cron job's reports do not depend on its cwd.
        return batch.base_dir / chosen, True
    suffix = "-plan" if job.command == "plan" else ""
    return default_dir(batch.name + suffix, started), False


def _summary(job: Job, batch: Batch, planned: Plan | None, settings: Settings,
             guarding: Guarding, prepared: Prepared, results: Sequence[Result],
             started: datetime, exit_code: int, aborted: str) -> dict[str, Any]:
    counts = {str(o): 0 for o in Outcome}
    for result in results:
        counts[result.outcome] += 1
    # A user losing every account is deleted once a revoke went through and none of their
    # accounts is left behind (missing rows are already gone).
    went_through = {Outcome.REVOKED, Outcome.WOULD_REVOKE}
    left_behind = {r.user_id for r in results if not r.outcome.settled}
    deleted = len({r.user_id for r in results if r.outcome in went_through
                   and r.user_id in prepared.doomed} - left_behind)
    return {
        "command": job.command,
        "rows": len(results),
        "counts": counts,
        "exit_code": exit_code,
        "started_at": _iso(started),
        "finished_at": _iso(datetime.now(UTC)),
        "source": batch.source,
        "source_sha256": batch.sha256,
        "plan": {"path": str(planned.path), "sha256": planned.sha256} if planned else None,
        "aborted": aborted or None,
        "revocations_planned": len(revocations(prepared.actions)),
        "users_deleted" if job.command == "run" else "users_would_be_deleted": deleted,
        "offboard_version": __version__,
        "run_by": _who(),
        "key_user": prepared.key_user,
        "options": {
            **{k: getattr(settings, k) for k in ("rate", "concurrency", "max_attempts",
                                                 "timeout", "base_url")},
            "sandbox": job.sandbox,
            "max_revocations": guarding.max_revocations,
            "delete_tokens": guarding.delete_tokens,
            "protect": sorted(map(str, guarding.protection.ids))
            + sorted(guarding.protection.emails),
            "yes": job.yes,
        },
    }


def _who() -> str:
    """The OS user and host running offboard, for the audit record."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
