"""run.json's batch record (journal/writer.py's record_batch) is the same text however it is
made: joined from each person's part made while the user list was read, or encoded whole."""

from __future__ import annotations

import json
from pathlib import Path

from offboard.core.directory import Directory
from offboard.journal.layout import META, internal
from offboard.journal.writer import Report
from offboard.plan.deletions import Deletions

USERS = [
    {
        "id": 101,
        "email": "Ann@Example.com",
        "name": 'Ann "the" Ö\u2028 \\ admin',
        "lang": "de",
        "client_and_roles": [
            {"client_id": 10, "client_company_name": "Acme ü", "user_roles": [{"id": 1}]},
            {"client_id": 11, "client_company_name": "B", "user_roles": [{"id": 2}, {"id": 3}]},
        ],
    },
    {"id": 102, "email": "bob@example.com", "name": "", "client_and_roles": []},
    {"id": 103, "email": "c@example.com", "name": "中文", "lang": "zh", "client_and_roles": []},
]


def _expected(meta: dict[str, object], deletions: Deletions, directory: Directory) -> str:
    people = directory.people
    accounts = sorted({a for p in people.values() for a in p.accounts})
    document = {
        **meta,
        "deletions": deletions.to_json(),
        "people": {str(p.id): p.to_json() for p in people.values()},
        "account_names": {str(a): directory.names[a] for a in accounts if a in directory.names},
    }
    return json.dumps(document, ensure_ascii=False) + "\n"


def test_run_json_is_the_same_text_with_parts_made_ahead_or_not(tmp_path: Path) -> None:
    """A first run's run.json, with the people's parts made while the list was read (some,
    all or none of them), is byte for byte json.dumps of the whole document."""
    meta: dict[str, object] = {"command": "run", "source": 'l "ö".csv', "options": {"a": [1]}}
    deletions = Deletions({101: frozenset({10, 11})}, {101: 3}, frozenset({999}), {101: 11})
    for n, encode in enumerate(((), {101}, {101, 102, 103})):
        directory = Directory.from_users(USERS, encode)
        report = Report.create(tmp_path / f"r{n}", [], meta)
        report.record_batch(deletions, directory.people, directory.names)
        text = (internal(tmp_path / f"r{n}") / META).read_text(encoding="utf-8")
        assert text == _expected(meta, deletions, directory)
        # A second record (a resume adds to what is on disk) still reads it back whole.
        report.record_batch(deletions, directory.people, directory.names)
        again = json.loads((internal(tmp_path / f"r{n}") / META).read_text(encoding="utf-8"))
        assert again == json.loads(text)


def test_the_batchs_people_are_encoded_as_the_list_is_read() -> None:
    """Directory.from_users makes the run.json part of the users it is told to, and only
    theirs: that CPU goes beside the list's round trips, not before the first DELETE."""
    directory = Directory.from_users(USERS, {101, 103})
    made = {user for user, person in directory.people.items() if person._json}
    assert made == {101, 103}
    assert directory.people[101]._json == json.dumps(
        directory.people[101].to_json(), ensure_ascii=False
    )
