"""The passes over the rows (issue 22): the pass before the first DELETE plans and guards
each row, and the sending pass reuses its Actions instead of planning them again; past
survey.KEPT_ACTIONS the sending pass plans again, with the same outcomes. Through the real
session over loopback against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.lowlevel
import httpx
import pytest

import offboard.job.ahead as ahead
import offboard.job.session as session
import offboard.job.survey as survey
import offboard.plan.guards as guards
import offboard.plan.rows as plan_rows
from offboard.core.job import Job, Seams
from offboard.job.run import run_one

from .conftest import KEY
from .helpers import FakeClock

HOLD = 300  # scheduler turns each answer is held: far more than parsing 8 rows takes
# An ID row, an email row, a duplicate of it, an invalid row, a protected user, the key's
# own user, a `*` row (two accounts) and a user the list does not know.
ROWS = "account,user\n10,101\n10,bob@t.example\n10,102\nten,103\n10,105\n10,1\n*,101\n10,999\n"


def run(tmp_path: Path, url: str, name: str) -> list[dict[str, Any]]:
    source = tmp_path / f"{name}.csv"
    source.write_text(ROWS)
    report = tmp_path / name
    job = Job(
        str(source),
        base_url=url,
        report_dir=str(report),
        yes=True,
        verbosity=-1,
        protect=("105",),
    )
    done = run_one(job, Seams(environ={"GCORE_API_KEY": KEY}, transport=None, clock=FakeClock()))
    assert done.exit_code == 1, done.problem  # the invalid and skipped rows need a person
    lines = (report / "results.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if not k.endswith(("_at", "request_id"))}
        for line in lines
    ]


def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"parse": 0, "guard": 0}
    parse, guard = plan_rows.parse, guards.guard

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counting_guard(*args: Any, **kwargs: Any) -> Any:
        calls["guard"] += 1
        return guard(*args, **kwargs)

    monkeypatch.setattr(plan_rows, "parse", counting_parse)
    monkeypatch.setattr(ahead, "parse", counting_parse)
    monkeypatch.setattr(session, "guard", counting_guard)
    return calls


def test_each_row_is_planned_and_guarded_once(sandbox, tmp_path, monkeypatch):
    """8 rows (9 Actions: the `*` row is two): parsed 8 times and guarded 9 times in the
    whole run, not twice each (the pass before the first DELETE, then the sending pass)."""
    calls = counted(monkeypatch)
    records = run(tmp_path, sandbox().url, "once")
    assert calls == {"parse": 8, "guard": 9}
    assert [(r["row"], r["account"], r["outcome"]) for r in records] == [
        (2, 10, "revoked"),
        (3, 10, "revoked"),
        (4, 10, "duplicate"),
        (5, "ten", "invalid"),
        (6, 10, "skipped"),
        (7, 10, "skipped"),
        (8, 10, "duplicate"),  # row 2's pair
        (8, 20, "revoked"),
        (9, 10, "missing"),
    ]


def test_past_the_kept_actions_the_sending_pass_plans_again(sandbox, tmp_path, monkeypatch):
    """With room for fewer Actions than the batch has, the sending pass plans (from the rows
    parsed once, ahead) and guards every row again; every record is as with them kept."""
    kept = run(tmp_path, sandbox().url, "kept")
    monkeypatch.setattr(survey, "KEPT_ACTIONS", 3)
    calls = counted(monkeypatch)
    again = run(tmp_path, sandbox().url, "again")
    assert calls == {"parse": 8, "guard": 18}
    assert again == kept


class Watching(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox; each answer held a few hundred scheduler turns (a round
    trip), noting how many rows were parsed when the first DELETE went out."""

    def __init__(self, calls: dict[str, int]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = calls
        self.parsed_at: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        self.parsed_at.setdefault(key, self.calls["parse"])
        answer = await self.inner.handle_async_request(request)
        await answer.aread()
        for _ in range(HOLD):
            await anyio.lowlevel.checkpoint()
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_rows_are_parsed_while_the_key_user_is_looked_up(sandbox, tmp_path, monkeypatch):
    """Every row is parsed before the user list is asked for (while the key's user is read),
    and never again: the pass after the list only resolves, dedupes and guards."""
    calls = counted(monkeypatch)
    source = tmp_path / "l.csv"
    source.write_text(ROWS)
    transport = Watching(calls)
    job = Job(str(source), base_url=sandbox().url, report_dir=str(tmp_path / "r"), yes=True)
    seams = Seams(environ={"GCORE_API_KEY": KEY}, transport=transport, clock=FakeClock())
    assert run_one(job, seams).exit_code == 1  # the invalid row needs a person
    assert transport.parsed_at["GET /iam/users"] == 8
    assert calls["parse"] == 8
