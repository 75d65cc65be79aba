"""report and report_files: journal, columns, order, BOM, formula neutralising, owner-only."""

import csv
import json
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offboard.core.models import Mode, Outcome, Result, Row
from offboard.journal.writer import Report
from offboard.report.lists import Written, neutralise, write_lists

ROWS = [
    Result(
        Row(2, "1", "9", {"ticket": '=HYPERLINK("x")', "message": "hi"}),
        Outcome.REVOKED,
        1,
        9,
        200,
        1,
        "rid",
        "access removed",
    ),
    Result(
        Row(3, "-1", "x", {"ticket": "+1", "message": ""}),
        Outcome.INVALID,
        message="account: must be a positive integer ID",
    ),
]


def written(
    tmp_path: Path, verdicts: Mapping[tuple[int, int], Mapping[str, Any]] | None = None
) -> tuple[Path, Report, Written]:
    directory = tmp_path / "r"
    report = Report.create(directory, ["ticket", "message"], {"command": "run"})
    report.open()
    for result in ROWS:
        report.settled(result)
        report.write(result)
    ordered = report.close()
    return (
        directory,
        report,
        write_lists(directory, report.header, ordered, Mode.RUN, verdicts or {}),
    )


def test_report_files_columns_and_permissions(tmp_path):
    """results.csv has the contract's columns then carried ones, with a BOM for Excel; what
    only offboard reads is in .offboard/; files are 0600, directories 0700."""
    directory, _, _ = written(tmp_path)
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        ".offboard",
        "invalid.csv",
        "missing.csv",
        "results.csv",
        "results.jsonl",
        "revoked.csv",
        "token_blocked.csv",
    ]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / ".offboard").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in directory.rglob("*") if p.is_file()} == {0o600}
    raw = (directory / "results.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrow,")
    lines = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert lines[0] == [
        "row",
        "account",
        "user",
        "user_id",
        "outcome",
        "http_status",
        "attempts",
        "request_id",
        "message",
        "name",
        "email",
        "user_deleted",
        "verified",
        "settled_at",
        "account_name",
        "ticket",
        "input_message",
    ]
    assert lines[1][15] == '\'=HYPERLINK("x")' and lines[2][1] == "'-1" and lines[2][15] == "'+1"
    journal = [json.loads(x) for x in (directory / "results.jsonl").read_text().splitlines()]
    assert not (directory / "results.jsonl").read_bytes().startswith(b"\xef\xbb\xbf")
    assert journal[0]["account"] == 1 and journal[0]["ticket"] == '=HYPERLINK("x")'
    assert (directory / "missing.csv").read_text(encoding="utf-8-sig").count("\n") == 1


def test_counts_come_from_the_pass_over_the_journal(tmp_path):
    """The counts, the per-account breakdown and the rows needing a person come from the
    same pass that writes the lists."""
    _, _, result = written(tmp_path)
    assert result.totals.counts["revoked"] == 1 and result.totals.counts["invalid"] == 1
    assert result.accounts == {"1": {"revoked": 1}, "-1": {"invalid": 1}}
    assert [r["row"] for r in result.needing["invalid"]] == [3]


def test_a_contradicting_read_back_turns_the_row_failed(tmp_path):
    """A verdict from the read-back changes the row in every list and in the counts."""
    verdict = {"verified": False, "outcome": "failed", "message": "still there"}
    directory, _, result = written(tmp_path, {(2, 1): verdict})
    assert result.totals.counts["revoked"] == 0 and result.totals.counts["failed"] == 1
    rows = list(
        csv.DictReader((directory / "failed.csv").read_text(encoding="utf-8-sig").splitlines())
    )
    assert rows[0]["verified"] == "false" and rows[0]["message"] == "still there"
    assert (directory / "revoked.csv").read_text(encoding="utf-8-sig").count("\n") == 1


def test_neutralise():
    """Only cells a spreadsheet would run are changed."""
    assert [neutralise(c) for c in ["=1+1", "@SUM", "-2", "+3", "\tx", "plain", "a=b", ""]] == [
        "'=1+1",
        "'@SUM",
        "'-2",
        "'+3",
        "'\tx",
        "plain",
        "a=b",
        "",
    ]
