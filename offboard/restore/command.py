"""`offboard restore REPORT_DIR`: give back the access a run removed, with the same role.

    check    REPORT_DIR is a finished `run`, of this base URL, not restored already (exit 2;
             restore/checks.py); the metrics file is the restore's own (restore/metrics.py)
    read     the key's user (must be the run's) and today's user list
    decide   per revoked row: invite, already a member, or not restorable (restore/plan.py)
    guard    --plan stops here; the cap; a prompt on a terminal
    send     POST /iam/clients/invite_user per row, through the shared rate limiter and
             retries (api.Api); every row journaled as it settles (restore/report.py)
    report   the lists, summary.json, and a mark in REPORT_DIR that it was restored
    show     the lines (text) or events (json), and the metrics file (restore/output.py)

Everything that can refuse happens before the first invite, and a refused restore leaves
no report directory behind.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import click

from ..core.defaults import DEFAULT_BASE_URL, DEFAULT_MAX_RESTORES
from ..core.errors import AuthRejected, OffboardError, Refused, SettingsError
from ..core.locks import exclusive
from ..core.models import RESTORE_GIVEN_BACK, RestoreOutcome
from ..core.settings import Settings, check_base_url, merge, read_api_key
from ..http.api import Api, DirectoryError, RequestNotSent, make_client
from ..journal.reader import read_previous
from ..journal.writer import internal
from ..report.logs import Log
from ..report.summary import iso
from .checks import RESTORED_MARK, finished_run, mark_restored, marked, restore_dir
from .metrics import RestoreMetrics, check_metrics_file, write_restore_metrics
from .output import confirm, resume_command, show
from .plan import (
    Revoked,
    Step,
    revoked_rows,
    select,
    step,
)
from .report import (
    Journal,
    create,
    exit_code,
    settled,
    write_files,
)


@dataclass(frozen=True, slots=True)
class Request:
    """The command line of one restore."""

    report: str
    rows: Sequence[int] = ()
    users: Sequence[str] = ()
    accounts: Sequence[int] = ()
    plan: bool = False
    yes: bool = False
    resume: str | None = None
    report_dir: str | None = None
    base_url: str | None = None
    api_key_file: str | None = None
    max_restores: int = DEFAULT_MAX_RESTORES
    numbers: Mapping[str, Any] | None = None
    log_format: str = "text"
    verbosity: int = 0  # -1: -q
    run_id: str = ""
    metrics_file: str | None = None


def restore(request: Request, environ: Mapping[str, str],
            say: Callable[[str], None] = lambda line: click.echo(line, err=True)) -> int:
    """Restore (or plan the restore of) REPORT_DIR's revoked rows; returns the exit code.
    With --metrics-file, the metrics are written whatever happens, a refusal included."""
    source = Path(request.report)
    log = Log(request.log_format, request.verbosity, request.run_id, job=source.name)
    check_metrics_file(request.metrics_file)
    began, traffic = time.monotonic(), Traffic()
    try:
        done = _restore(request, source, environ, log, traffic)
    except OffboardError as exc:
        _metrics(request, source, exc.exit_code, {}, [], traffic, began)
        raise
    code, steps, records, directory, base_url = done
    counts = Counter(str(r["outcome"]) for r in records.values())
    _metrics(request, source, code, counts, records.values(), traffic, began)
    show(log, say, code=code, plan=request.plan, steps=steps, records=records,
         counts=counts, directory=directory,
         resume=resume_command(source, directory, base_url))
    return code


@dataclass(slots=True)
class Traffic:
    """The requests of a restore's two clients, added up for its metrics."""

    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0

    def add(self, api: Api) -> None:
        self.statuses.update(api.statuses)
        self.retries += api.retries


def _restore(request: Request, source: Path, environ: Mapping[str, str], log: Log,
             traffic: Traffic) -> tuple[int, list[Step], dict[Any, dict[str, Any]], Path, str]:
    run = finished_run(source)
    base_url = _base_url(request, run, environ)
    key = read_api_key(request.api_key_file, environ)
    numbers = merge({}, dict(request.numbers or {}), "restore")
    settings = Settings(base_url=base_url, api_key=key, **numbers)
    previous = read_previous(source, run["meta"].get("source_sha256", ""))
    chosen = select(revoked_rows(previous.settled.values(), previous.people),
                    request.rows, request.users, request.accounts)
    if not chosen:
        raise Refused(f"{source}: no revoked row matches --row/--user/--account"
                      if request.rows or request.users or request.accounts
                      else f"{source}: the run revoked nothing: nothing to restore")
    began = datetime.now(UTC)
    directory, done = restore_dir(source, began, resume=request.resume,
                                  report_dir=request.report_dir, plan=request.plan)
    with exclusive(internal(source) / "restore.lock", f"report directory {source}"):
        mark = internal(source) / RESTORED_MARK
        earlier = marked(mark)
        if not request.plan and request.resume is None:
            if all((r.row, r.account) in earlier for r in chosen):
                given = sorted({earlier[(r.row, r.account)] for r in chosen})
                raise Refused(f"{source}: already restored (report: {', '.join(given)}); "
                              "nothing to do")
            chosen = [r for r in chosen if (r.row, r.account) not in earlier]
        steps = anyio.run(_read_and_decide, settings, run["key_user"], chosen, source, traffic)
        sending = [s for s in steps if s.outcome is None
                   and (s.revoked.row, s.revoked.account) not in done]
        if not request.plan and len(sending) > request.max_restores:
            raise Refused(f"{len(sending)} invites planned, above --max-restores "
                          f"{request.max_restores}: refusing the whole restore")
        if not request.plan and not request.yes and sys.stdin.isatty() and sending:
            confirm(sending, steps)
        meta = {"command": "restore", "report": str(source), "base_url": base_url,
                "started_at": iso(began), "plan": request.plan}
        if request.resume is None:
            create(directory, meta)
        try:
            code = anyio.run(_send, settings, steps, directory, done, request.plan, log,
                             traffic)
        except BaseException:
            if request.resume is None and not settled(directory):
                shutil.rmtree(directory, ignore_errors=True)
            raise
        records = settled(directory)
        counts = Counter(str(r["outcome"]) for r in records.values())
        code = exit_code(counts, code == 3)
        write_files(directory, records.values(), {
            **meta, "finished_at": iso(datetime.now(UTC)), "exit_code": code})
        if not request.plan:  # the rows now back, so a later restore leaves them alone
            back = {(r["row"], r["account"]): str(directory) for r in records.values()
                    if RestoreOutcome(r["outcome"]) in RESTORE_GIVEN_BACK}
            mark_restored(mark, {**earlier, **back})
    return code, steps, records, directory, base_url


def _metrics(request: Request, source: Path, code: int, counts: Mapping[str, int],
             records: Iterable[Mapping[str, Any]], traffic: Traffic, began: float) -> None:
    if request.metrics_file is None:
        return
    rows = list(records)
    new_users = sum(1 for r in rows if r.get("new_user_id") not in (None, r.get("user_id")))
    write_restore_metrics(Path(request.metrics_file), RestoreMetrics(
        source.name, dict(counts), code, time.monotonic() - began, new_users,
        sum(len(r.get("tokens") or ()) for r in rows), dict(traffic.statuses),
        traffic.retries), now=time.time())


def _base_url(request: Request, run: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    if request.base_url is not None:
        url = check_base_url(request.base_url, "--base-url")
    elif environ.get("GCORE_BASE_URL"):
        url = check_base_url(environ["GCORE_BASE_URL"], "GCORE_BASE_URL")
    else:
        url = DEFAULT_BASE_URL
    if run["base_url"] and url.rstrip("/") != str(run["base_url"]).rstrip("/"):
        raise Refused(f"{request.report}: that run was against {run['base_url']}, not {url}: "
                      "a restore goes to the API the run used")
    return url


async def _read_and_decide(settings: Settings, key_user: Any, chosen: Sequence[Revoked],
                           source: Path, traffic: Traffic) -> list[Step]:
    async with make_client(settings) as client:
        api = Api(settings, client)
        try:
            me = await api.whoami()
            if me != key_user:
                raise SettingsError(f"{source}: that run was made with another key's user "
                                    f"({key_user}), not {me}: restore with the run's key")
            directory = await api.list_users()
        except (DirectoryError, RequestNotSent) as exc:
            if "401" in api.abort_reason:
                raise AuthRejected(f"{api.abort_reason}: nothing was restored") from None
            raise Refused(f"cannot read the user list: {api.abort_reason or exc}") from None
        finally:
            traffic.add(api)
    return [step(revoked, directory) for revoked in chosen]


async def _send(settings: Settings, steps: Sequence[Step], directory: Path,
                done: Mapping[tuple[int, int], Any], plan: bool, log: Log,
                traffic: Traffic) -> int:
    journal = Journal(directory)
    aborted = False
    try:
        async with make_client(settings) as client:
            api = Api(settings, client, on_retry=log.retry)

            def record(*fields: Any) -> None:
                log.restored(journal.record(*fields))

            limit = anyio.Semaphore(settings.concurrency)

            async def one(item: Step) -> None:
                nonlocal aborted
                revoked = item.revoked
                if (revoked.row, revoked.account) in done:
                    return
                if item.outcome is not None:
                    record(revoked, item.outcome, item.message)
                    return
                if plan:
                    record(revoked, RestoreOutcome.WOULD_RESTORE, item.message)
                    return
                async with limit:
                    try:
                        exchange = await api.invite(revoked.account, revoked.email,
                                                    revoked.role or 0, revoked.name,
                                                    revoked.lang)
                    except RequestNotSent:
                        aborted = True
                        record(revoked, RestoreOutcome.NOT_ATTEMPTED,
                               f"not sent: {api.abort_reason}")
                        return
                outcome, message, new_id = _classify(exchange, item)
                record(revoked, outcome, message, exchange, new_id)

            async with anyio.create_task_group() as watchers:
                watchers.start_soon(_watch_signals, api)
                async with anyio.create_task_group() as group:
                    for item in steps:
                        group.start_soon(one, item)
                watchers.cancel_scope.cancel()
            aborted = aborted or bool(api.abort_reason)
            traffic.add(api)
    finally:
        journal.close()
    return 3 if aborted else 0


async def _watch_signals(api: Api) -> None:
    """SIGINT/SIGTERM: send no new invite, let those in flight finish, then report (the
    rows not sent are `not_attempted`, and `--resume` continues)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for number in received:
            api.abort(f"interrupted by {signal.Signals(number).name}")


def _classify(exchange: Any, item: Step) -> tuple[RestoreOutcome, str, int | None]:
    """An invite's answer as the restore's outcome, message and the user's ID now."""
    revoked, body = item.revoked, exchange.body
    if exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("user_id"),
                                                                        int):
        new_id = body["user_id"]
        message = f"invited back to account {revoked.account} as {revoked.role_name}"
        if new_id != revoked.user_id:
            message += (f"; a new user (ID {new_id}, was {revoked.user_id}): they must "
                        "accept the invitation e-mail")
        return RestoreOutcome.RESTORED, message, new_id
    text = json.dumps(body) if body is not None else exchange.message
    if exchange.status == 400 and "already been invited" in text:
        return (RestoreOutcome.ALREADY_MEMBER, "already a member of the account: left alone",
                None)
    if exchange.status == 400 and "user_role" in text:
        return (RestoreOutcome.NOT_RESTORABLE,
                f"the role {revoked.role_name} no longer exists in account "
                f"{revoked.account} (400: {text[:200]}): offboard does not guess "
                "another", None)
    status = exchange.status if exchange.status is not None else exchange.error
    return (RestoreOutcome.FAILED,
            f"invite failed ({status}: {exchange.message or text})"[:400], None)
