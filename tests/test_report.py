"""report: columns, order, formula neutralising and owner-only files."""

import csv
import json
import stat

from offboard.models import Outcome, Result, Row
from offboard.report import Report, neutralise


def test_report_files_columns_and_permissions(tmp_path):
    """results.csv has the contract's columns then carried ones; files are 0600, dir 0700."""
    Report.make_dir(tmp_path / "r")
    report = Report(tmp_path / "r", ["ticket", "message"])
    report.open()
    results = [
        Result(Row(2, "1", "9", {"ticket": "=HYPERLINK(\"x\")", "message": "hi"}),
               Outcome.REVOKED, 1, 9, 200, 1, "rid", "access removed"),
        Result(Row(3, "-1", "x", {"ticket": "+1", "message": ""}), Outcome.INVALID,
               message="account: must be a positive integer ID"),
    ]
    for result in results:
        report.add(result)
        report.write(result)
    report.finish({"rows": 2})
    directory = tmp_path / "r"
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["inflight.jsonl", "invalid.csv", "missing.csv", "results.csv",
                     "results.jsonl", "revoked.csv", "summary.json", "token_blocked.csv"]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    lines = list(csv.reader((directory / "results.csv").read_text().splitlines()))
    assert lines[0] == ["row", "account", "user", "user_id", "outcome", "http_status", "attempts",
                        "request_id", "message", "name", "email", "user_deleted", "verified",
                        "settled_at", "ticket", "input_message"]
    assert lines[1][14] == "'=HYPERLINK(\"x\")" and lines[2][1] == "'-1" and lines[2][14] == "'+1"
    journal = [json.loads(x) for x in (directory / "results.jsonl").read_text().splitlines()]
    assert journal[0]["account"] == 1 and journal[0]["ticket"] == "=HYPERLINK(\"x\")"
    assert (directory / "missing.csv").read_text().count("\n") == 1


def test_neutralise():
    """Only cells a spreadsheet would run are changed."""
    assert [neutralise(c) for c in ["=1+1", "@SUM", "-2", "+3", "\tx", "plain", "a=b", ""]] == [
        "'=1+1", "'@SUM", "'-2", "'+3", "'\tx", "plain", "a=b", ""]
