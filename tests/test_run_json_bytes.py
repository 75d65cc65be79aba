"""run.json's batch record (journal/writer.py's record_batch) is the same text however it is
made: joined from each person's own text (Person.encoded), or encoded whole."""

from __future__ import annotations

import json
from pathlib import Path

from offboard.core.directory import Directory, Person
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


def test_run_json_is_the_same_text_joined_from_each_persons(tmp_path: Path) -> None:
    """A first run's run.json, each person's part made by Person.encoded and joined, is
    byte for byte json.dumps of the whole document (three people, one, none)."""
    meta: dict[str, object] = {"command": "run", "source": 'l "ö".csv', "options": {"a": [1]}}
    deletions = Deletions({101: frozenset({10, 11})}, {101: 3}, frozenset({999}), {101: 11})
    for n, users in enumerate((USERS, USERS[:1], [])):
        directory = Directory.from_users(users)
        report = Report.create(tmp_path / f"r{n}", [], meta)
        report.record_batch(deletions, directory.people, directory.names)
        text = (internal(tmp_path / f"r{n}") / META).read_text(encoding="utf-8")
        assert text == _expected(meta, deletions, directory)
        # A second record (a resume adds to what is on disk) still reads it back whole.
        report.record_batch(deletions, directory.people, directory.names)
        again = json.loads((internal(tmp_path / f"r{n}") / META).read_text(encoding="utf-8"))
        assert again == json.loads(text)


def test_a_persons_text_is_json_dumps_of_its_record() -> None:
    """Person.encoded, made without a dict, is json.dumps(to_json(), ensure_ascii=False) to
    the byte: quotes, backslashes, control and non-ASCII characters, empty and many roles."""
    people = [
        *Directory.from_users(USERS).people.values(),
        Person(7, "", frozenset(), '\x00\t\n"\\\u2029😀', "", {}),
        Person(8, "e@x", frozenset({1, 2}), "n", "l", {2: (), 1: (5, 10**20)}),
    ]
    for person in people:
        assert person.encoded() == json.dumps(person.to_json(), ensure_ascii=False)
