"""`offboard restore REPORT_DIR`: give back the access a run removed, with the same role.

    check    REPORT_DIR is a finished `run`, of this base URL, not restored already (exit 2;
             restore/checks.py); the metrics file is the restore's own (restore/metrics.py)
    read     the key's user (must be the run's) and today's user list  (restore/session.py)
    decide   per revoked row: invite, already a member, or not restorable (restore/plan.py)
    guard    --plan stops here; the cap; the prompt on a terminal, as a run's (job/prompt.py)
    send     POST /iam/clients/invite_user per row on the run's executor, limiter and
             retries (restore/session.py); every row journaled as it settles (restore/report.py)
    report   the lists, summary.json, and a mark in REPORT_DIR that it was restored
    show     the lines (text) or events (json) (restore/output.py), and the metrics file

Everything that can refuse happens before the first invite, and a refused restore leaves
no report directory behind. Tests replace the transport, clock and prompt through `Seams`.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import click

from ..core.defaults import DEFAULT_MAX_RESTORES
from ..core.errors import OffboardError, Refused
from ..core.job import Seams
from ..core.locks import exclusive
from ..core.restore_record import RESTORE_GIVEN_BACK, RestoreOutcome
from ..core.settings import Settings, chosen_base_url, merge, read_api_key
from ..journal.layout import internal
from ..journal.reader import read_previous
from ..report.logs import Log
from ..report.summary import iso
from .checks import RESTORED_MARK, finished_run, mark_restored, marked, restore_dir
from .metrics import RestoreMetrics, check_metrics_file, write_restore_metrics
from .output import resume_command, show
from .plan import Step, revoked_rows, select
from .report import Journal, create, exit_code, new_users, settled, write_files
from .session import Restoring


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


def restore(
    request: Request,
    seams: Seams | None = None,
    say: Callable[[str], None] = lambda line: click.echo(line, err=True),
) -> int:
    """Restore (or plan the restore of) REPORT_DIR's revoked rows; returns the exit code.
    With --metrics-file, the metrics are written whatever happens, a refusal included."""
    seams = seams or Seams.of_this_process()
    source = Path(request.report)
    log = Log(request.log_format, request.verbosity, request.run_id, job=source.name)
    check_metrics_file(request.metrics_file)
    began, traffic = time.monotonic(), Traffic()
    try:
        done = _restore(request, source, seams, log, traffic)
    except OffboardError as exc:
        _metrics(request, source, exc.exit_code, {}, [], traffic, began)
        raise
    code, steps, records, directory, base_url = done
    counts = Counter(str(r["outcome"]) for r in records.values())
    _metrics(request, source, code, counts, records.values(), traffic, began)
    show(
        log,
        say,
        code=code,
        plan=request.plan,
        steps=steps,
        records=records,
        counts=counts,
        directory=directory,
        resume=resume_command(source, directory, base_url),
    )
    return code


@dataclass(slots=True)
class Traffic:
    """A restore's requests, for its metrics (kept even when it is refused midway)."""

    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0


def _restore(
    request: Request, source: Path, seams: Seams, log: Log, traffic: Traffic
) -> tuple[int, list[Step], dict[Any, dict[str, Any]], Path, str]:
    run = finished_run(source)
    base_url = _base_url(request, run, seams.environ)
    key = read_api_key(request.api_key_file, seams.environ)
    numbers = merge({}, dict(request.numbers or {}), "restore")
    settings = Settings(base_url=base_url, api_key=key, **numbers)
    previous = read_previous(source, run["meta"].get("source_sha256", ""))
    chosen = select(
        revoked_rows(previous.settled.values(), previous.people),
        request.rows,
        request.users,
        request.accounts,
    )
    if not chosen:
        raise Refused(
            f"{source}: no revoked row matches --row/--user/--account"
            if request.rows or request.users or request.accounts
            else f"{source}: the run revoked nothing: nothing to restore"
        )
    began = datetime.now(UTC)
    directory, done = restore_dir(
        source, began, resume=request.resume, report_dir=request.report_dir, plan=request.plan
    )
    with exclusive(internal(source) / "restore.lock", f"report directory {source}"):
        mark = internal(source) / RESTORED_MARK
        earlier = marked(mark)
        if not request.plan and request.resume is None:
            if all((r.row, r.account) in earlier for r in chosen):
                given = sorted({earlier[(r.row, r.account)] for r in chosen})
                raise Refused(
                    f"{source}: already restored (report: {', '.join(given)}); nothing to do"
                )
            chosen = [r for r in chosen if (r.row, r.account) not in earlier]
        meta = {
            "command": "restore",
            "report": str(source),
            "base_url": base_url,
            "started_at": iso(began),
            "plan": request.plan,
        }
        created: list[Path] = []

        def begin() -> Journal:
            if request.resume is None:
                create(directory, meta)
                created.append(directory)
            return Journal(directory)

        restoring = Restoring(
            settings,
            seams,
            log,
            source,
            run["key_user"],
            chosen,
            done,
            request.plan,
            request.yes,
            request.max_restores,
            begin,
        )
        try:
            anyio.run(restoring.run)
        except BaseException:
            if created and not settled(directory):  # nothing was sent: leave no report
                shutil.rmtree(directory, ignore_errors=True)
            raise
        finally:
            traffic.statuses.update(restoring.statuses)
            traffic.retries += restoring.retries
        steps = restoring.steps
        records = settled(directory)
        counts = Counter(str(r["outcome"]) for r in records.values())
        code = exit_code(counts, restoring.aborted)
        write_files(
            directory,
            records.values(),
            {**meta, "finished_at": iso(datetime.now(UTC)), "exit_code": code},
        )
        if not request.plan:  # the rows now back, so a later restore leaves them alone
            back = {
                (r["row"], r["account"]): str(directory)
                for r in records.values()
                if RestoreOutcome(r["outcome"]) in RESTORE_GIVEN_BACK
            }
            mark_restored(mark, {**earlier, **back})
    return code, steps, records, directory, base_url


def _metrics(
    request: Request,
    source: Path,
    code: int,
    counts: Mapping[str, int],
    records: Iterable[Mapping[str, Any]],
    traffic: Traffic,
    began: float,
) -> None:
    if request.metrics_file is None:
        return
    rows = list(records)
    write_restore_metrics(
        Path(request.metrics_file),
        RestoreMetrics(
            source.name,
            dict(counts),
            code,
            time.monotonic() - began,
            new_users(rows),
            sum(len(r.get("tokens") or ()) for r in rows),
            dict(traffic.statuses),
            traffic.retries,
        ),
        now=time.time(),
    )


def _base_url(request: Request, run: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    url = chosen_base_url(request.base_url, environ)
    if run["base_url"] and url.rstrip("/") != str(run["base_url"]).rstrip("/"):
        raise Refused(
            f"{request.report}: that run was against {run['base_url']}, not {url}: "
            "a restore goes to the API the run used"
        )
    return url
