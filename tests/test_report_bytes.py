"""The report's lists byte for byte: results.csv, the per-outcome lists, the login lists,
results.jsonl and people.csv from tricky records (formula cells, negative and huge
numbers, bools, None, floats, tokens, login facts, a read-back verdict, accents), pinned by
their sha256, so a faster writer cannot change one byte of what people open."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from offboard.core.directory import Person
from offboard.core.models import Mode
from offboard.journal.layout import internal
from offboard.journal.writer import Report
from offboard.report.lists import write_lists, write_people


def record(row: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "row": row,
        "account": 10,
        "user": str(100 + row),
        "user_id": 100 + row,
        "outcome": "revoked",
        "http_status": 200,
        "attempts": 1,
        "request_id": f"r{row}",
        "message": "access removed",
        "name": "",
        "email": f"u{row}@t.example",
        "user_deleted": False,
        "verified": None,
        "settled_at": "2026-12-07T10:00:00.000Z",
        "account_name": "Ten",
        "ticket": f"HR-{row}",
        "leave_date": "",
    }
    return base | fields


RECORDS = [
    record(2, user_deleted=True, name="Zoë Ångström", login={"flag": "quiet"}),
    record(3, ticket='=HYPERLINK("x")', message="-2 is +3", account_name="@acme"),
    record(4, account="-1", user="\tx", user_id=None, outcome="invalid", http_status=None),
    record(
        5,
        outcome="token_blocked",
        http_status=403,
        attempts=2,
        tokens=[{"id": 900, "name": "ci", "issuer": "a@t.example"}, {"id": 901, "name": ""}],
    ),
    record(6, outcome="failed", http_status=503, attempts=3, maybe_applied=True, user_id=2**63 - 1),
    record(
        7,
        everywhere=True,
        account=20,
        account_name="Twenty",
        login={
            "flag": "after_leaving",
            "leave_date": "2026-11-01",
            "login_at": "2026-11-20T10:00:00Z",
            "ip_address": "10.0.0.1",
            "user_agent": "curl/8",
        },
        leave_date="2026-11-01",
    ),
    record(7, everywhere=True, account=30, account_name="", outcome="missing", http_status=404),
    record(8, attempts=1.5, verified=True, ticket="\r\nline", name=None),
    record(9, outcome="duplicate", http_status=None, attempts=0, message="same as row 2"),
]
PEOPLE = {
    102: Person(102, "u2@t.example", frozenset({10, 20}), "Zoë Ångström"),
    103: Person(103, "u3@t.example", frozenset({10})),
    107: Person(107, "u7@t.example", frozenset({10, 20, 30}), "=cmd"),
    108: Person(108, "u8@t.example", frozenset({10})),
}
NAMES = {10: "Ten", 20: "Twenty", 30: "Thirty"}
VERDICTS = {(8, 10): {"verified": False, "verify_note": "still a member", "outcome": "failed"}}

# The sha256 of each file as the writer before issue 22's changes wrote it.
EXPECTED = {
    "duplicate.csv": "7d10aa2547947b44ff55d9a0e49a2295b70410cd2193b8ba97c30b287a5b4216",
    "failed.csv": "98ab19446fe29bb57ebb754f273416106fd388e7f1fa7598df72e4e4d7d63625",
    "invalid.csv": "25db30f736cddeb7927f7d2183fb12b117539ccd189f242814fdb661df8a6585",
    "last_logins.csv": "dc9831aef44483ce73315043821fb4bce15811c5631269b0730280d8f18c0fd2",
    "logins_after_leaving.csv": "3deb86804d796ef14b62a41afbdbf854cce62d8f8ece8e3f5c4bf1e56ad3a064",
    "missing.csv": "03a07f2f7fa68698096b712771a8967f80ecfa590f7ca966984dc6c61e606336",
    "people.csv": "c0e0f6f207cd90da723438c09e9c4af0e3bdb2e1759b2b9fba1904fd60c5291b",
    "results.csv": "77ed4e274e2676d512581c6a5f4f3b12c101e2097cab96c01721c458197c6823",
    "results.jsonl": "a54e89727fcd9173e27d4dee938cc3f4e588a85d470c1d90b099520115a107d4",
    "revoked.csv": "cd785af895574bd018daecdc17e9f5b4c6d97f95caf40bfe89b1f0861ea58f1c",
    "token_blocked.csv": "4afcbb0bce28fd5157249bede3282d2b74fa61798d2d3fada0319557132163db",
}


def test_the_lists_are_byte_for_byte_as_before(tmp_path: Path) -> None:
    """Every list, results.jsonl and people.csv hash to the bytes the earlier writer made."""
    directory = tmp_path / "r"
    report = Report.create(directory, ["ticket", "leave_date"], {"command": "run"})
    ordered = internal(directory) / "ordered.jsonl"
    ordered.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8"
    )
    written = write_lists(directory, report.header, ordered, Mode.RUN, VERDICTS)
    write_people(directory, written.people, PEOPLE, NAMES, None, Mode.RUN)
    got = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
        if path.is_file()
    }
    assert got == EXPECTED
