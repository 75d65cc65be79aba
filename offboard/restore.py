"""`offboard restore REPORT_DIR`: give back the access a run removed, with the same role.

    check    REPORT_DIR is a finished `run`, of this base URL, not restored already (exit 2)
    read     the key's user (must be the run's) and today's user list
    decide   per revoked row: invite, already a member, or not restorable (restore_plan.py)
    guard    --plan stops here; the cap; a prompt on a terminal
    send     POST /iam/clients/invite_user per row, through the shared rate limiter and
             retries (api.Api); every row journaled as it settles (restore_report.py)
    report   the lists, summary.json, and a mark in REPORT_DIR that it was restored

Everything that can refuse happens before the first invite, and a refused restore leaves
no report directory behind.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import click

from .api import Api, DirectoryError, RequestNotSent, make_client
from .defaults import DEFAULT_MAX_RESTORES
from .errors import AuthRejected, Refused, SettingsError
from .journal import read_previous
from .locks import exclusive
from .report import internal, stamp, write_private
from .restore_plan import (
    SETTLED,
    Outcome,
    Revoked,
    Step,
    revoked_rows,
    select,
    step,
)
from .restore_report import (
    Journal,
    create,
    exit_code,
    read_meta,
    result_lines,
    settled,
    write_files,
)
from .settings import Settings, check_base_url, merge, read_api_key
from .summary import iso

RESTORED_MARK = "restored.json"  # in REPORT_DIR/.offboard: which restore gave it back


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
    quiet: bool = False


def restore(request: Request, environ: Mapping[str, str],
            say: Callable[[str], None] = lambda line: click.echo(line, err=True)) -> int:
    source = Path(request.report)
    run = _finished_run(source)
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
    directory, done = _restore_dir(request, source, began)
    with exclusive(internal(source) / "restore.lock", f"report directory {source}"):
        mark = internal(source) / RESTORED_MARK
        earlier = _marked(mark)
        if not request.plan and request.resume is None:
            if all((r.row, r.account) in earlier for r in chosen):
                given = sorted({earlier[(r.row, r.account)] for r in chosen})
                raise Refused(f"{source}: already restored (report: {', '.join(given)}); "
                              "nothing to do")
            chosen = [r for r in chosen if (r.row, r.account) not in earlier]
        steps = anyio.run(_read_and_decide, settings, run["key_user"], chosen, source)
        sending = [s for s in steps if s.outcome is None
                   and (s.revoked.row, s.revoked.account) not in done]
        if not request.plan and len(sending) > request.max_restores:
            raise Refused(f"{len(sending)} invites planned, above --max-restores "
                          f"{request.max_restores}: refusing the whole restore")
        if not request.plan and not request.yes and sys.stdin.isatty() and sending:
            _confirm(sending, steps)
        meta = {"command": "restore", "report": str(source), "base_url": base_url,
                "started_at": iso(began), "plan": request.plan}
        if request.resume is None:
            create(directory, meta)
        try:
            code = anyio.run(_send, settings, steps, directory, done, request.plan)
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
                    if Outcome(r["outcome"]) in (Outcome.RESTORED, Outcome.ALREADY_MEMBER)}
            _mark(mark, {**earlier, **back})
    if request.plan and not request.quiet:
        for item in steps:
            click.echo(_plan_line(item))
    elif not request.quiet:
        for line in result_lines(records.values()):
            click.echo(line)
    if code:
        say(_summary(counts, directory, request.plan))
    if code == 3:
        say("offboard: continue with: offboard restore " + shlex.join(
            [str(source), "--resume", str(directory), "--base-url", base_url]))
    elif not request.quiet:
        click.echo(_summary(counts, directory, request.plan))
    return code


def _marked(mark: Path) -> dict[tuple[int, int], str]:
    """Rows (row, account) restores gave back already, with the restore's report."""
    try:
        data = json.loads(mark.read_text("utf-8"))
        return {(int(row), int(account)): str(where)
                for row, account, where in data.get("rows", [])}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _mark(mark: Path, rows: Mapping[tuple[int, int], str]) -> None:
    write_private(mark, json.dumps({"rows": [[r, a, w] for (r, a), w in sorted(rows.items())],
                                    "at": iso(datetime.now(UTC))}) + "\n")


def _plan_line(item: Step) -> str:
    r = item.revoked
    what = str(item.outcome) if item.outcome is not None else "would_restore"
    tokens = "".join(f"; API token {t.get('name') or t.get('id')} ({t.get('role') or 'role ?'}"
                     f", expires {t.get('expires') or 'never'}) is gone for good"
                     for t in r.tokens)
    return f"row {r.row}: {r.email} account {r.account}: {what}: {item.message}{tokens}"


def _finished_run(source: Path) -> dict[str, Any]:
    """REPORT_DIR's run.json and summary.json; refuse anything but a finished `run`."""
    try:
        meta = json.loads((internal(source) / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise Refused(f"{source}: not an offboard report directory (no readable "
                      ".offboard/run.json)") from None
    if meta.get("command") != "run":
        raise Refused(f"{source}: the report of a `{meta.get('command')}`, not of a run: "
                      "nothing was revoked")
    try:
        summary = json.loads((source / "summary.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise Refused(f"{source}: that run did not finish (no summary.json): finish it with "
                      "`offboard run ... --resume` first") from None
    options = summary.get("options") if isinstance(summary.get("options"), dict) else {}
    if options.get("sandbox"):
        raise Refused(f"{source}: a --sandbox run: its simulator is gone, with what it "
                      "revoked; restore a run made against `offboard sandbox` or the API")
    return {"meta": meta, "key_user": summary.get("key_user"),
            "base_url": options.get("base_url")}


def _base_url(request: Request, run: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    if request.base_url is not None:
        url = check_base_url(request.base_url, "--base-url")
    elif environ.get("GCORE_BASE_URL"):
        url = check_base_url(environ["GCORE_BASE_URL"], "GCORE_BASE_URL")
    else:
        url = "https://api.gcore.com"
    if run["base_url"] and url.rstrip("/") != str(run["base_url"]).rstrip("/"):
        raise Refused(f"{request.report}: that run was against {run['base_url']}, not {url}: "
                      "a restore goes to the API the run used")
    return url


def _restore_dir(request: Request, source: Path, began: datetime
                 ) -> tuple[Path, dict[tuple[int, int], dict[str, Any]]]:
    """Where the restore's report goes, and what an earlier attempt already settled."""
    if request.resume is not None:
        directory = Path(request.resume)
        if Path(read_meta(directory).get("report", "")) != source:
            raise Refused(f"--resume {directory}: the restore of another report")
        return directory, {k: r for k, r in settled(directory).items()
                           if Outcome(r["outcome"]) in SETTLED}
    if request.report_dir is not None:
        return Path(request.report_dir), {}
    suffix = "-restore-plan" if request.plan else "-restore"
    return source.with_name(f"{source.name}{suffix}-{stamp(began)}"), {}


async def _read_and_decide(settings: Settings, key_user: Any, chosen: Sequence[Revoked],
                           source: Path) -> list[Step]:
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
    return [step(revoked, directory) for revoked in chosen]


async def _send(settings: Settings, steps: Sequence[Step], directory: Path,
                done: Mapping[tuple[int, int], Any], plan: bool) -> int:
    journal = Journal(directory)
    aborted = False
    try:
        async with make_client(settings) as client:
            api = Api(settings, client)
            limit = anyio.Semaphore(settings.concurrency)

            async def one(item: Step) -> None:
                nonlocal aborted
                revoked = item.revoked
                if (revoked.row, revoked.account) in done:
                    return
                if item.outcome is not None:
                    journal.record(revoked, item.outcome, item.message)
                    return
                if plan:
                    journal.record(revoked, Outcome.WOULD_RESTORE, item.message)
                    return
                async with limit:
                    try:
                        exchange = await api.invite(revoked.account, revoked.email,
                                                    revoked.role or 0, revoked.name,
                                                    revoked.lang)
                    except RequestNotSent:
                        aborted = True
                        journal.record(revoked, Outcome.NOT_ATTEMPTED,
                                       f"not sent: {api.abort_reason}")
                        return
                outcome, message, new_id = _classify(exchange, item)
                journal.record(revoked, outcome, message, exchange, new_id)

            async with anyio.create_task_group() as watchers:
                watchers.start_soon(_watch_signals, api)
                async with anyio.create_task_group() as group:
                    for item in steps:
                        group.start_soon(one, item)
                watchers.cancel_scope.cancel()
            aborted = aborted or bool(api.abort_reason)
    finally:
        journal.close()
    return 3 if aborted else 0


async def _watch_signals(api: Api) -> None:
    """SIGINT/SIGTERM: send no new invite, let those in flight finish, then report (the
    rows not sent are `not_attempted`, and `--resume` continues)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for number in received:
            api.abort(f"interrupted by {signal.Signals(number).name}")


def _classify(exchange: Any, item: Step) -> tuple[Outcome, str, int | None]:
    """An invite's answer as the restore's outcome, message and the user's ID now."""
    revoked, body = item.revoked, exchange.body
    if exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("user_id"),
                                                                        int):
        new_id = body["user_id"]
        message = f"invited back to account {revoked.account} as {revoked.role_name}"
        if new_id != revoked.user_id:
            message += (f"; a new user (ID {new_id}, was {revoked.user_id}): they must "
                        "accept the invitation e-mail")
        return Outcome.RESTORED, message, new_id
    text = json.dumps(body) if body is not None else exchange.message
    if exchange.status == 400 and "already been invited" in text:
        return Outcome.ALREADY_MEMBER, "already a member of the account: left alone", None
    if exchange.status == 400 and "user_role" in text:
        return (Outcome.NOT_RESTORABLE, f"the role {revoked.role_name} no longer exists in "
                f"account {revoked.account} (400: {text[:200]}): offboard does not guess "
                "another", None)
    status = exchange.status if exchange.status is not None else exchange.error
    return Outcome.FAILED, f"invite failed ({status}: {exchange.message or text})"[:400], None


def _confirm(sending: Sequence[Step], steps: Sequence[Step]) -> None:
    new = sum(1 for s in sending if s.new_user)
    tokens = sum(len(s.revoked.tokens) for s in steps)
    lines = [f"Restore {len(sending)} access(es) (POST /iam/clients/invite_user):"]
    lines += [f"  row {s.revoked.row}: {s.revoked.email} -> account {s.revoked.account} as "
              f"{s.revoked.role_name}" + (" (a NEW user: they were deleted)" if s.new_user
                                         else "") for s in sending[:20]]
    if len(sending) > 20:
        lines.append(f"  ... and {len(sending) - 20} more")
    if new:
        lines.append(f"{new} user(s) were deleted by the run: they get a fresh invitation "
                     "with a new user ID.")
    if tokens:
        lines.append(f"{tokens} API token(s) the run deleted cannot come back: see "
                     "tokens_gone.csv, and issue new ones.")
    click.echo("\n".join(lines), err=True)
    if not click.confirm("Proceed?", default=False, err=True):
        raise Refused("not confirmed: nothing was sent")


def _summary(counts: Mapping[str, int], directory: Path, plan: bool) -> str:
    shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    what = "restore plan" if plan else "restore"
    return f"offboard: {what}: {shown or 'nothing'}; report: {directory}/results.csv"
