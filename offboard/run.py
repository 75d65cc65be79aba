"""One run, start to finish: read -> plan -> execute -> classify -> report.

    Job (from the CLI) --read_source--> Batch --settings--> Settings
    Batch.rows --plan--> [Action] --execute--> [Result] --Report--> files + table

Everything that can refuse the run (exit 2) happens before the report
directory is made or any request is sent.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import httpx

from . import __version__
from .api import Api, DirectoryError, RequestNotSent, make_client
from .clock import Clock
from .errors import SettingsError
from .execute import OnResult, execute
from .models import Action, Outcome, Result
from .plan import needs_directory, plan
from .report import Report, default_dir
from .settings import DEFAULT_BASE_URL, Secret, Settings, check_base_url, merge, read_api_key
from .source import Batch, read_source
from .terminal import print_summary, progress


@dataclass(frozen=True, slots=True)
class Job:
    """What the person asked for on the command line (None = not given)."""

    source: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_file: str | None = None
    report_dir: str | None = None
    sandbox: bool = False


@dataclass(frozen=True, slots=True)
class Seams:
    """What tests replace: the process's streams, environment, transport and clock."""

    stdin: BinaryIO | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock | None = None
    rng: random.Random | None = None


def run(job: Job, seams: Seams | None = None) -> int:
    """Run the batch; returns the exit code. Raises Refused before anything is sent."""
    seams = seams or Seams(stdin=sys.stdin.buffer)
    batch = read_source(job.source, seams.stdin)
    numbers = merge(batch.settings, job.numbers, batch.source)
    with _target(job, batch, seams.environ) as (base_url, api_key):
        settings = Settings(base_url=base_url, api_key=api_key, **numbers)
        started = datetime.now(UTC)
        directory, chosen = _report_dir(job, batch, started)
        report = Report.create(directory, batch.columns, chosen=chosen)
        with progress(len(batch.rows)) as advance:

            def settled(result: Result) -> None:
                report.add(result)
                advance(result)

            results, aborted = anyio.run(_run_batch, batch.rows, settings, settled, seams)
        counts = {str(o): 0 for o in Outcome}
        for result in results:
            counts[result.outcome] += 1
        exit_code = 3 if aborted else (0 if all(r.outcome.settled for r in results) else 1)
        report.finish(results, {
            "rows": len(results),
            "counts": counts,
            "exit_code": exit_code,
            "started_at": _iso(started),
            "finished_at": _iso(datetime.now(UTC)),
            "source": batch.source,
            "source_sha256": batch.sha256,
            "aborted": aborted or None,
            "offboard_version": __version__,
            "base_url": settings.base_url,
            "sandbox": job.sandbox,
            "settings": numbers,
        })
    print_summary(results, report.directory, exit_code, aborted)
    return exit_code


async def _run_batch(rows: Sequence[Any], settings: Settings, settled: OnResult,
                     seams: Seams) -> tuple[list[Result], str]:
    async with make_client(settings, seams.transport) as client:
        api = Api(settings, client, seams.clock, seams.rng)
        directory, directory_error = None, ""
        if needs_directory(rows):
            try:
                directory = await api.list_users()
            except (DirectoryError, RequestNotSent) as exc:
                directory_error = api.abort_reason or str(exc)
        actions = plan(rows, directory, directory_error)
        if api.abort_reason:
            actions = [_unsent(a, api.abort_reason) for a in actions]
        results = await execute(actions, api, settings.concurrency, settled)
    return results, api.abort_reason


def _unsent(action: Action, reason: str) -> Action:
    """After an abort, an email row that could not be resolved was simply not sent."""
    if action.outcome is Outcome.FAILED:
        return Action(action.row, action.account, None, Outcome.NOT_ATTEMPTED,
                      f"not sent: {reason}")
    return action


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
    return default_dir(batch.name, started), False


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
