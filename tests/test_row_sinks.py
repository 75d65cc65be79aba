"""Row sinks (core/sinks.py): the executor hands each settled row to the marks, then the journal,
then the watchers, and a subscriber that raises ends the batch as a failing journal always has."""

from __future__ import annotations

import errno
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from offboard.core.job import Job, Seams
from offboard.core.models import Action, Mode, Result, Row
from offboard.core.sinks import Subscribers
from offboard.execute.revoke import Revoker
from offboard.execute.workers import execute
from offboard.http.api import Api, make_client
from offboard.job.run import run_one
from offboard.journal.writer import Report

from .conftest import KEY
from .helpers import FakeClock, routed, settings

ACCOUNT = 10


class Recorder:
    """A subscriber that notes (its name, the row, the result it saw); raises on one row."""

    def __init__(self, name: str, seen: list[tuple[str, int, Result]], fail_on: int = 0) -> None:
        self.name, self.seen, self.fail_on = name, seen, fail_on

    def settled(self, result: Result) -> None:
        self.seen.append((self.name, result.row.number, result))
        if result.row.number == self.fail_on:
            raise OSError(errno.ENOSPC, "No space left on device")

    def mark(self, result: Result) -> Result:
        self.seen.append((self.name, result.row.number, result))
        return replace(result, message=f"{result.message}+{self.name}")


def run_rows(
    rows: int, journal_fails_on: int = 0, log_fails_on: int = 0
) -> tuple[list[tuple[str, int, Result]], list[int], list[int], BaseExceptionGroup | None]:
    """Revoke `rows` users of ACCOUNT one at a time (every DELETE answered 200): what each
    subscriber saw, in order; the users whose DELETE was sent; the rows passed on in input
    order; what the executor raised (None: nothing)."""
    sent: list[httpx.Request] = []
    seen: list[tuple[str, int, Result]] = []
    ordered: list[int] = []
    config = settings(concurrency=1, max_attempts=1)
    actions = [
        Action(Row(n + 2, str(ACCOUNT), str(100 + n)), ACCOUNT, 100 + n) for n in range(rows)
    ]
    subscribers = Subscribers(
        journal=Recorder("journal", seen, journal_fails_on),
        marks=(Recorder("deletions", seen), Recorder("activity", seen)),
        watchers=(Recorder("log", seen, log_fails_on), Recorder("progress", seen)),
    )

    async def go() -> None:
        async with make_client(config, routed(lambda r: httpx.Response(200), sent)) as client:
            api = Api(config, client, FakeClock(), random.Random(1))
            await execute(
                actions,
                api,
                1,
                Revoker(),
                subscribers=subscribers,
                ordered=lambda result: ordered.append(result.row.number),
                hard_stop=anyio.CancelScope(),
            )

    raised = None
    try:
        anyio.run(go)
    except BaseExceptionGroup as exc:
        raised = exc
    users = [int(r.url.path.rsplit("/", 1)[1]) for r in sent if r.method == "DELETE"]
    return seen, users, ordered, raised


def test_each_row_goes_to_the_marks_then_the_journal_then_the_watchers():
    """Per row: deletions, activity (each completing the result), journal, log, progress; the
    journal and every watcher see the one completed result, the marks' changes included."""
    seen, users, ordered, raised = run_rows(2)
    assert raised is None
    assert [(name, row) for name, row, _ in seen] == [
        (name, row)
        for row in (2, 3)
        for name in ("deletions", "activity", "journal", "log", "progress")
    ]
    for row in (2, 3):
        journaled = next(r for name, n, r in seen if name == "journal" and n == row)
        assert journaled.message.endswith("+deletions+activity")
        assert all(
            r is journaled for name, n, r in seen if n == row and name in ("log", "progress")
        )
    assert users == [100, 101] and ordered == [2, 3]


def test_a_journal_that_fails_ends_the_batch_before_anyone_else_hears_of_the_row():
    """The journal raising on row 3 (a full disk) ends the batch as it always has: the
    exception leaves the executor, the log and the bar never see row 3, row 3 is not passed
    on in order, and no later row is sent."""
    seen, users, ordered, raised = run_rows(5, journal_fails_on=3)
    assert raised is not None and _leaves(raised) == ["[Errno 28] No space left on device"]
    assert [name for name, row, _ in seen if row == 3] == ["deletions", "activity", "journal"]
    assert max(row for _, row, _ in seen) == 3
    assert users == [100, 101] and ordered == [2]


def test_a_watcher_that_fails_ends_the_batch_as_the_journal_does():
    """The log raising on row 3 is handled as a journal failure is (the exception leaves the
    executor, the batch ends), after the journal recorded row 3; nothing later is sent."""
    seen, users, ordered, raised = run_rows(5, log_fails_on=3)
    assert raised is not None and _leaves(raised) == ["[Errno 28] No space left on device"]
    assert [name for name, row, _ in seen if row == 3] == [
        "deletions",
        "activity",
        "journal",
        "log",
    ]
    assert max(row for _, row, _ in seen) == 3
    assert users == [100, 101] and ordered == [2]


def _leaves(group: BaseExceptionGroup) -> list[str]:
    """The exceptions inside a (nested) exception group, as text."""
    return [
        str(leaf) if not isinstance(leaf, BaseExceptionGroup) else _leaves(leaf)[0]
        for leaf in group.exceptions
    ]


def test_a_journal_that_cannot_write_stops_the_run_with_what_it_journaled(
    sandbox, tmp_path, monkeypatch
):
    """A real run whose journal fails on row 4 (ENOSPC): the run raises (the CLI's
    'internal error', exit 3), rows 2-3 are journaled, no report is written, row 5's DELETE is
    never sent: unchanged by the row sinks."""
    sb = sandbox()
    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n10,105\n10,106\n", encoding="utf-8")
    add, open_ = Report.settled, Report.open
    opened: list[Report] = []

    def failing(self: Report, result: Result) -> None:
        if result.row.number == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        add(self, result)

    def remembered(self: Report, *args: Any) -> None:
        opened.append(self)
        open_(self, *args)

    monkeypatch.setattr(Report, "settled", failing)
    monkeypatch.setattr(Report, "open", remembered)
    job = Job(
        str(source),
        Mode.RUN,
        numbers={"concurrency": 1},
        base_url=sb.url,
        report_dir=str(tmp_path / "r"),
        yes=True,
        verbosity=-1,
        run_id="0123456789ab",
    )
    with pytest.raises(BaseExceptionGroup) as raised:
        run_one(job, Seams(environ={"GCORE_API_KEY": KEY}))
    assert raised.group_contains(OSError, match="No space left")
    opened[0].close()  # the process would end here; a test process goes on: close its files
    journal = [
        json.loads(line)
        for line in (tmp_path / "r" / ".offboard" / "journal.jsonl").read_text().splitlines()
    ]
    assert [record["row"] for record in journal] == [2, 3]
    assert not Path(tmp_path / "r" / "summary.json").exists()
    assert sb.has_access(10, 106)
