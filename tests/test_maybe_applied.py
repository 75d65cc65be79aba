"""The "maybe applied" mark: set on the result where the 404 is classified, journaled, read
back by a resume, and what the deletion count trusts; a journal written before the mark
existed still reads (the message's words, in journal/reader.py only)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import anyio
import httpx

from offboard.core.directory import Directory
from offboard.core.models import MAYBE_APPLIED, Action, Outcome, Result, Row
from offboard.execute.revoke import Revoker
from offboard.http.api import Api, make_client
from offboard.journal.layout import INTERNAL, JOURNAL
from offboard.journal.reader import read_previous, row_key
from offboard.journal.writer import Report
from offboard.plan.deletions import Decider, Deletions, Tracker

from .conftest import world
from .helpers import FakeClock, scripted, settings

ACTION = Action(Row(2, "10", "8"), 10, 8)
# User 8 is in accounts 10 and 20: the batch revokes both, so it deletes the user.
DIRECTORY = Directory.from_users(
    [
        {"id": 8, "email": "one@x.io", "client_and_roles": [{"client_id": 10}, {"client_id": 20}]},
    ]
)


def revoke(*replies: httpx.Response | Exception, suspect: bool = False) -> Result:
    config = settings(max_attempts=3)
    in_flight = frozenset({row_key(ACTION.row, 10)}) if suspect else frozenset()

    async def go() -> Result:
        async with make_client(config, scripted(replies)) as client:
            api = Api(config, client, FakeClock(), random.Random(1))
            return await Revoker(in_flight_before=in_flight)(ACTION, api)

    return anyio.run(go)


def test_the_revoke_marks_a_404_that_may_answer_its_own_earlier_attempt():
    """A dropped answer then 404, or a 404 for a row a killed run had in flight: the result
    says maybe_applied; a plain 404 and a 200 do not."""
    assert revoke(httpx.RemoteProtocolError("peer closed"), httpx.Response(404)).maybe_applied
    assert revoke(httpx.Response(404), suspect=True).maybe_applied
    assert not revoke(httpx.Response(404)).maybe_applied
    assert not revoke(httpx.Response(200)).maybe_applied


def deletions() -> Deletions:
    decider = Decider()
    decider.add(ACTION)
    decider.add(Action(Row(3, "20", "8"), 20, 8))
    return decider.decide(DIRECTORY)


def test_the_deletion_count_trusts_the_mark_not_the_message():
    """Both of user 8's accounts answer 404, the first after a revoke that may have been
    applied: the mark (not the words in the message) makes the second row the deletion."""
    tracker = Tracker(deletions())
    maybe = Result(ACTION.row, Outcome.MISSING, 10, 8, 404, 2, message="404", maybe_applied=True)
    assert tracker.settle(maybe) is False
    assert tracker.settle(Result(Row(3, "20", "8"), Outcome.MISSING, 20, 8, 404, 1)) is True
    worded = Tracker(deletions())
    worded.settle(Result(ACTION.row, Outcome.MISSING, 10, 8, message=f"404: {MAYBE_APPLIED}"))
    assert worded.settle(Result(Row(3, "20", "8"), Outcome.MISSING, 20, 8)) is False


def journal(tmp_path: Path, *results: Result) -> Path:
    directory = tmp_path / "r"
    report = Report.create(directory, [], {"command": "run", "source_sha256": "0" * 64})
    report.open()
    for result in results:
        report.settled(result)
        report.write(result)
    report.close()
    return directory


def test_the_mark_is_journaled_and_a_resume_reads_it_back(tmp_path):
    """The journal record of a maybe-applied 404 says `"maybe_applied": true` (other records
    do not carry the key); a resume gets the mark back on the carried result."""
    maybe = Result(
        ACTION.row,
        Outcome.MISSING,
        10,
        8,
        404,
        2,
        message=f"404: {MAYBE_APPLIED}",
        maybe_applied=True,
    )
    plain = Result(Row(3, "20", "8"), Outcome.MISSING, 20, 8, 404, 1, message="not there")
    directory = journal(tmp_path, maybe, plain)
    records = [
        json.loads(line)
        for line in (directory / INTERNAL / JOURNAL).read_text(encoding="utf-8").splitlines()
    ]
    assert records[0]["maybe_applied"] is True and "maybe_applied" not in records[1]
    previous = read_previous(directory, "0" * 64)
    kept = previous.kept(row_key(maybe.row, 10), maybe.row)
    assert kept is not None and kept.maybe_applied
    kept = previous.kept(row_key(plain.row, 20), plain.row)
    assert kept is not None and not kept.maybe_applied


def test_a_journal_from_before_the_mark_falls_back_to_the_message(tmp_path):
    """An older journal has no `maybe_applied` key: a record whose message carries the
    contract's words is read as maybe applied, any other as not."""
    maybe = Result(
        ACTION.row,
        Outcome.MISSING,
        10,
        8,
        404,
        2,
        message=f"404: {MAYBE_APPLIED}",
        maybe_applied=True,
    )
    plain = Result(Row(3, "20", "8"), Outcome.MISSING, 20, 8, 404, 1, message="not there")
    directory = journal(tmp_path, maybe, plain)
    path = directory / INTERNAL / JOURNAL
    old = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if k != "maybe_applied"}) + "\n" for r in old
        ),
        encoding="utf-8",
    )
    previous = read_previous(directory, "0" * 64)
    first = previous.kept(row_key(maybe.row, 10), maybe.row)
    second = previous.kept(row_key(plain.row, 20), plain.row)
    assert first is not None and first.maybe_applied
    assert second is not None and not second.maybe_applied


def test_the_cli_journals_the_mark_of_a_dropped_answer(cli, sandbox):
    """The real CLI over loopback: a revoke whose answer is dropped gets 404 on the retry; its
    results.jsonl record says `"maybe_applied": true`, a plain 404's record has no such key."""
    sb = sandbox(world(faults={"scripted": [{"account": 10, "user": 101, "responses": ["drop"]}]}))
    cli.write("l.csv", "account,user\n10,101\n20,102\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    lines = (cli.cwd / "o" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = {r["user_id"]: r for r in map(json.loads, lines)}
    assert records[101]["outcome"] == "missing" and records[101]["maybe_applied"] is True
    assert records[102]["outcome"] == "missing" and "maybe_applied" not in records[102]
