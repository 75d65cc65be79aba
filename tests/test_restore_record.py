"""A restore's record: the columns of its results.csv and the fields of its JSON row event
(one list of fields, core/restore_record.py, read by restore/report.py and report/logs.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from offboard.report.logs import Log
from offboard.restore.report import write_files

RECORD: dict[str, Any] = {
    "row": 2,
    "account": 10,
    "user_id": 7,
    "email": "ann@t.example",
    "name": "Ann",
    "role_id": 2,
    "role": "Users",
    "outcome": "restored",
    "http_status": 200,
    "attempts": 1,
    "request_id": "r-1",
    "message": "invited back to account 10 as Users",
    "new_user_id": 7,
    "settled_at": "2026-12-07T11:00:00+00:00",
    "tokens": [],
}


def test_the_restore_results_csv_has_the_records_columns_in_order(tmp_path: Path) -> None:
    """results.csv: row, account, user, name, role, outcome, answer, new user ID, time."""
    write_files(tmp_path, [RECORD], {})
    with (tmp_path / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f))
    assert header == [
        "row",
        "account",
        "user_id",
        "email",
        "name",
        "role_id",
        "role",
        "outcome",
        "http_status",
        "attempts",
        "request_id",
        "message",
        "new_user_id",
        "settled_at",
    ]


def test_a_restore_row_event_has_the_columns_but_name_role_and_time() -> None:
    """--log-format json: a settled restore row is one event with the record's fields, in
    the columns' order, leaving out name, role_id, role, settled_at (and the tokens)."""
    stream = io.StringIO()
    Log("json", run_id="abc", stream=stream).restored(RECORD)
    event = json.loads(stream.getvalue())
    assert list(event) == [
        "time",
        "run_id",
        "job",
        "event",
        "row",
        "account",
        "user_id",
        "email",
        "outcome",
        "http_status",
        "attempts",
        "request_id",
        "message",
        "new_user_id",
    ]
    assert event["event"] == "row" and event["new_user_id"] == 7
