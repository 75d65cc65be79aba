"""One `run` or `plan`, start to finish.

    Job --read_source / read_plan--> Batch (+ Plan) --settings--> Settings, Guarding
    lock:     the job file and the report directory (one run each at a time)
    prepare:  key's own user, user list -> [Action] (plan.py) -> guards (guards.py)
    decide:   cap, confirmation on a terminal          (refusals: exit 2, nothing sent)
    execute:  Revoker (run) or Previewer (plan) per row -> [Result], journaled
    report:   files, summary.json (with the audit record), metrics, the table

Everything that can refuse the run happens before any DELETE is sent, and a
refused run leaves no report directory behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import click
import httpx

from . import summary as summaries
from .api import Api, DirectoryError, RequestNotSent, make_client
from .clock import Clock
from .directory import Directory
from .errors import Refused, SettingsError
from .execute import execute
from .guards import Tally, check_cap, guard
from .journal import Previous, read_previous, row_key
from .locks import exclusive
from .logs import Log
from .metrics import write_metrics
from .models import Action, Outcome, Result
from .plan import FirstSeen, parse, plan
from .planfile import (
    Plan,
    PlanWriter,
    check_same_key_user,
    check_source_unchanged,
    read_plan,
)
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
    resume: str | None = None
    log_format: str = "text"
    verbosity: int = 0
    metrics_file: str | None = None


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
    """What the read-only first pass learned: enough to regenerate the same rows again."""

    key_user: int | None
    directory: Directory | None
    directory_error: str
    aborted: str  # set when the run must send nothing at all
    sending: int
    accounts: int
    users: int
    doomed: frozenset[int]


@dataclass(frozen=True, slots=True)
class Finished:
    exit_code: int
    directory: Path


def run(job: Job, seams: Seams | None = None) -> int:
    """Run or plan the batch (or every job of a jobs/ folder); returns the exit code."""
    seams = seams or Seams(stdin=sys.stdin.buffer, interactive=sys.stdin.isatty())
    if job.source != "-" and Path(job.source).is_dir():
        from .inbox import run_inbox

        return run_inbox(job, seams)
    return run_one(job, seams).exit_code


def run_one(job: Job, seams: Seams) -> Finished:
    """One SOURCE. Raises Refused (exit 2) before anything is sent."""
    planned = _read_plan(job)
    batch = read_source(planned.source if planned else job.source, seams.stdin)
    if planned:
        check_source_unchanged(planned, batch.sha256)
    if batch.sandbox is not None and not job.sandbox:
        raise Refused(f"{batch.source} has a sandbox: world, so it is a sandbox job: "
                      "run it with --sandbox (it must never reach the real API)")
    numbers = merge(batch.settings, job.numbers, batch.source)
    guarding = merge_guards(batch.settings, job.protect, job.max_revocations, job.delete_tokens,
                            batch.source)
    identity = planned.sha256 if planned else batch.sha256
    previous = read_previous(Path(job.resume), identity) if job.resume else None
    started = datetime.now(UTC)
    directory = Path(job.resume) if job.resume else Report.check_dir(
        *_report_dir(job, batch, started))
    log = Log(job.log_format, job.verbosity, uuid.uuid4().hex[:12])
    target = _check_target(job, batch, seams.environ)
    with ExitStack() as stack:
        if batch.job_file:
            lock = batch.base_dir / f".{Path(batch.source).name}.lock"
            stack.enter_context(exclusive(lock, f"job {batch.source}"))
        fresh = not directory.exists()
        Report.make_dir(directory)
        stack.enter_context(exclusive(directory / ".lock", f"report directory {directory}"))
        try:
            with _connect(target) as (base_url, api_key):
                settings = Settings(base_url=base_url, api_key=api_key, **numbers)
                run = _Run(job, batch, planned, settings, guarding, previous, directory, log,
                           seams)
                outcome = anyio.run(run.session)
        except Refused:
            if fresh:  # nothing was sent: leave no report behind
                shutil.rmtree(directory, ignore_errors=True)
            raise
        return run.finish(outcome, started, identity)


@dataclass
class _Outcome:
    report: Report
    totals: summaries.Totals
    prepared: Prepared
    aborted: str
    statuses: dict[str, int]
    retries: int
    carried: int | None  # rows a resume took over from the earlier run


class _Run:
    """The state of one run's session: built by run_one, consumed by finish()."""

    def __init__(self, job: Job, batch: Batch, planned: Plan | None, settings: Settings,
                 guarding: Guarding, previous: Previous | None, directory: Path, log: Log,
                 seams: Seams) -> None:
        self.job, self.batch, self.planned = job, batch, planned
        self.settings, self.guarding, self.previous = settings, guarding, previous
        self.directory, self.log, self.seams = directory, log, seams
        self.hard_stop: anyio.CancelScope | None = None  # made inside the event loop
        self.prompt: anyio.CancelScope | None = None

    async def session(self) -> _Outcome:
        refused: Refused | None = None
        outcome: _Outcome | None = None
        self.hard_stop = anyio.CancelScope()
        async with make_client(self.settings, self.seams.transport) as client:
            api = Api(self.settings, client, self.seams.clock, self.seams.rng, self.log.retry)
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(self._watch_signals, api)
                try:
                    outcome = await self._work(api)
                except Refused as exc:  # carried out of the task group unwrapped
                    refused = exc
                watchers.cancel_scope.cancel()
        if refused is not None:
            raise refused
        assert outcome is not None
        return outcome

    async def _work(self, api: Api) -> _Outcome:
        job, batch = self.job, self.batch
        seen = FirstSeen()
        prepared = await self._prepare(api, seen)
        if not api.abort_reason:
            await self._decide(api, prepared)
        report = Report.create(self.directory, batch.columns)
        if self.previous is None:
            report.write_file("run.json", _run_meta(job, batch, self.planned, self.log.run_id))
        totals = summaries.Totals(prepared.doomed)
        plan_file = PlanWriter(
            self.directory / "plan.json", source=batch.source, source_sha256=batch.sha256,
            created_at=datetime.now(UTC), created_by=summaries.who(),
            key_user=prepared.key_user, doomed=prepared.doomed,
        ) if job.command == "plan" else None
        carried = 0

        def take_over(action: Action) -> Result | None:
            nonlocal carried
            if self.previous is None:
                return None
            result = self.previous.kept(row_key(action.row, action.account), action.row)
            carried += result is not None
            return result

        def ordered(result: Result) -> None:
            report.write(result)
            totals.add(result)
            if plan_file is not None:
                plan_file.write(result)

        work = Previewer(prepared.doomed) if job.command == "plan" else Revoker(
            self.guarding.delete_tokens,
            self.previous.in_flight if self.previous else frozenset())
        assert self.hard_stop is not None
        total = len(self.planned.actions) if self.planned else batch.row_count
        with progress(total, enabled=not self.log.chatty) as advance:

            def settled(result: Result) -> None:
                report.add(result)
                self.log.row(result)
                advance(result)

            await execute(self._actions(prepared, seen), api, self.settings.concurrency, work,
                          settled=settled, ordered=ordered, hard_stop=self.hard_stop,
                          carried=take_over,
                          before_send=lambda a: report.mark_sending(a.row, a.account))
        seen.close()
        if plan_file is not None:
            plan_file.close()
        return _Outcome(report, totals, prepared, api.abort_reason, dict(api.statuses),
                        api.retries, carried if self.previous else None)

    async def _prepare(self, api: Api, seen: FirstSeen) -> Prepared:
        """Learn the key's user and the user list (reads only), then count what the rows
        would send: a first pass over them, so the cap and the prompt see the whole batch."""
        batch, planned, guarding = self.batch, self.planned, self.guarding
        key_user: int | None = None
        directory: Directory | None = None
        directory_error = ""
        if not _may_send(batch, planned):  # nothing usable: no reason to call the API at all
            return Prepared(None, None, "", "", 0, 0, 0, frozenset())
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
        first = Prepared(key_user, directory, directory_error, api.abort_reason, 0, 0, 0,
                         frozenset())
        tally = Tally(directory)
        for action in self._actions(first, seen):
            tally.add(action)
        doomed = planned.doomed if planned else tally.doomed()
        return Prepared(key_user, directory, directory_error, api.abort_reason, tally.sending,
                        len(tally.accounts), tally.users, doomed)

    def _actions(self, prepared: Prepared, seen: FirstSeen) -> Iterator[Action]:
        """The rows as they will be sent, regenerated lazily for each pass."""
        if self.planned is not None:
            source: Iterable[Action] = self.planned.actions
        else:
            source = plan(self.batch.rows, prepared.directory, prepared.directory_error, seen)
        protection = self.guarding.protection.merged_own(prepared.key_user)
        for action in source:
            action = guard(action, protection, prepared.directory)
            yield _unsent(action, prepared.aborted) if prepared.aborted else action

    async def _decide(self, api: Api, prepared: Prepared) -> None:
        """The cap, then the person's confirmation on a terminal: both before any DELETE."""
        cap = self.guarding.max_revocations
        if self.job.command == "plan":
            if prepared.sending > cap:
                self.log.warn(f"note: `run` would refuse this batch: {prepared.sending} "
                              f"revocations, cap {cap} (--max-revocations)")
            return
        check_cap(prepared.sending, cap)
        if not prepared.sending or self.job.yes or not self.seams.interactive:
            return  # cron: no one to ask; the cap is the guard
        deleted = ("an unknown number (the user list was unreadable)"
                   if prepared.directory_error else str(len(prepared.doomed)))
        question = (f"Revoke {prepared.sending} accesses ({prepared.users} users in "
                    f"{prepared.accounts} accounts)? Users who lose their last account and are "
                    f"deleted: {deleted}. Proceed?")
        with anyio.CancelScope() as self.prompt:
            confirmed = await anyio.to_thread.run_sync(self.seams.confirm, question,
                                                       abandon_on_cancel=True)
        if self.prompt.cancelled_caught or api.abort_reason or not confirmed:
            raise Refused("not confirmed: nothing was sent")

    async def _watch_signals(self, api: Api) -> None:
        """First SIGINT/SIGTERM: send nothing new, let requests in flight finish, report.
        A second one: stop at once (the journal still lets --resume continue)."""
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            async for number in received:
                name = signal.Signals(number).name
                if self.prompt is not None:
                    self.prompt.cancel()
                if not api.abort_reason:
                    api.abort(f"interrupted by {name}")
                    self.log.warn(f"{name}: finishing the requests in flight, then writing the "
                                  "report; send it again to stop at once")
                elif self.hard_stop is not None:
                    self.hard_stop.cancel()

    def finish(self, outcome: _Outcome, started: datetime, identity: str) -> Finished:
        job, totals, aborted = self.job, outcome.totals, outcome.aborted
        exit_code = 3 if aborted else (0 if totals.all_settled else 1)
        summary = summaries.build(
            command=job.command, run_id=self.log.run_id, totals=totals, exit_code=exit_code,
            started=started, source=self.batch.source if not self.planned else job.source,
            source_sha256=identity,
            plan={"path": job.source, "sha256": self.planned.sha256} if self.planned else None,
            aborted=aborted, revocations=outcome.prepared.sending,
            key_user=outcome.prepared.key_user, options=self._options(),
            resumed=outcome.carried)
        outcome.report.finish(summary)
        if job.metrics_file:
            write_metrics(Path(job.metrics_file), job=self.batch.name,
                          counts=summary["counts"], requests=outcome.statuses,
                          retries=outcome.retries,
                          duration=(datetime.now(UTC) - started).total_seconds(),
                          finished=time.time(), exit_code=exit_code)
        self.log.summary(summary)
        if self.log.verbosity >= 0:
            print_summary(totals, outcome.report.directory, exit_code, aborted)
            if job.command == "plan" and not aborted:
                click.echo(f"To run exactly this plan: offboard run "
                           f"{outcome.report.directory}/plan.json")
        return Finished(exit_code, outcome.report.directory)

    def _options(self) -> dict[str, Any]:
        settings, guarding = self.settings, self.guarding
        return {
            **{k: getattr(settings, k) for k in ("rate", "concurrency", "max_attempts",
                                                 "timeout", "max_consecutive_failures",
                                                 "base_url")},
            "sandbox": self.job.sandbox,
            "max_revocations": guarding.max_revocations,
            "delete_tokens": guarding.delete_tokens,
            "protect": [*sorted(map(str, guarding.protection.ids)),
                        *sorted(guarding.protection.emails)],
            "yes": self.job.yes,
            "resume": self.job.resume,
        }


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


def _run_meta(job: Job, batch: Batch, planned: Plan | None, run_id: str) -> str:
    return json.dumps({
        "command": job.command,
        "source": job.source,
        "source_sha256": planned.sha256 if planned else batch.sha256,
        "run_id": run_id,
        "started_at": summaries.iso(datetime.now(UTC)),
    }, indent=1) + "\n"


@dataclass(frozen=True, slots=True)
class _Target:
    """Where requests go: the real API (URL and key), or a sandbox world to start."""

    base_url: str = ""
    api_key: Secret | None = None
    world: Any = None


def _check_target(job: Job, batch: Batch, environ: Mapping[str, str]) -> _Target:
    """Check the URL and key (or the sandbox world) before anything is made or sent."""
    if not job.sandbox:
        if job.base_url is not None:
            base_url = check_base_url(job.base_url, "--base-url")
        elif environ.get("GCORE_BASE_URL"):
            base_url = check_base_url(environ["GCORE_BASE_URL"], "GCORE_BASE_URL")
        else:
            base_url = DEFAULT_BASE_URL
        return _Target(base_url, read_api_key(job.api_key_file, environ))
    if job.base_url is not None or job.api_key_file is not None:
        raise SettingsError("--sandbox brings its own URL and key: drop --base-url/--api-key-file")
    from .sandbox import SandboxError, demo_world, load_world

    try:
        return _Target(world=load_world(batch.sandbox, origin=f"{batch.source}: sandbox")
                       if batch.sandbox is not None else demo_world())
    except SandboxError as exc:
        raise SettingsError(str(exc)) from None


@contextmanager
def _connect(target: _Target) -> Iterator[tuple[str, Secret]]:
    """The base URL and key to use; for a sandbox world, the sandbox is started here."""
    if target.world is None:
        assert target.api_key is not None
        yield target.base_url, target.api_key
        return
    from .sandbox import Sandbox

    with Sandbox(target.world, port=0) as sandbox:
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
