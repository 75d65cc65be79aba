"""A restore's report directory: its journal (the truth about each row) and the files made
from it, owner-only like every report.

    DIR/results.csv         every selected row, in row order
    DIR/restored.csv, already_member.csv   always; failed.csv etc. when they occur
    DIR/tokens_gone.csv     API tokens the run deleted: they cannot come back
    DIR/summary.json        counts, exit code, the run it restores
    DIR/.offboard/restore.json, journal.jsonl, lock
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import SettingsError
from ..core.restore_record import (
    RESTORE_ALWAYS_WRITTEN,
    RESTORE_COLUMNS,
    RESTORE_FINE,
    RestoreOutcome,
)
from ..journal.files import JsonLines, write_private
from ..journal.layout import INTERNAL, internal, now
from ..journal.reader import records as journal_records
from ..report.lists import neutralise
from .plan import Restored

META, JOURNAL = "restore.json", "journal.jsonl"


def create(directory: Path, meta: Mapping[str, Any]) -> None:
    """Make DIR with its metadata at once (made under a temporary name, then renamed), so
    a directory that exists is a restore's report."""
    if directory.exists() and any(directory.iterdir()):
        raise SettingsError(
            f"--report-dir {directory}: not empty (a report never overwrites another)"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    making = directory.with_name(f".{directory.name}.making")
    shutil.rmtree(making, ignore_errors=True)
    (making / INTERNAL).mkdir(parents=True, mode=0o700)
    os.chmod(making, 0o700)
    write_private(making / INTERNAL / META, json.dumps(meta, indent=2) + "\n")
    if directory.exists():
        directory.rmdir()
    making.rename(directory)


def read_meta(directory: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((internal(directory) / META).read_text("utf-8"))
    except (OSError, ValueError):
        raise SettingsError(
            f"--resume {directory}: not a restore's report directory "
            f"(no readable {INTERNAL}/{META})"
        ) from None
    return data


def row_key(record: Mapping[str, Any]) -> tuple[int, int]:
    """A restore's journal record identifies its row by (row, account)."""
    return int(record["row"]), int(record["account"])


def settled(directory: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """The journal's records by (row, account), the last one winning; a torn last line is
    ignored (journal/reader.py reads a run's journal the same way)."""
    return {row_key(r): r for r in journal_records(internal(directory) / JOURNAL, row_key)}


class Journal:
    """A restore's journal: each settled row appended to the shared journal file
    (journal/files.py), flushed at once and fsync'd by group commit, as a run's rows are."""

    def __init__(self, directory: Path) -> None:
        self._lines = JsonLines(internal(directory) / JOURNAL)

    def record(self, restored: Restored) -> dict[str, Any]:
        revoked = restored.revoked
        record = {
            "row": revoked.row,
            "account": revoked.account,
            "user_id": revoked.user_id,
            "email": revoked.email,
            "name": revoked.name,
            "role_id": revoked.role,
            "role": revoked.role_name,
            "outcome": str(restored.outcome),
            "http_status": restored.http_status,
            "attempts": restored.attempts,
            "request_id": restored.request_id,
            "message": restored.message,
            "new_user_id": restored.new_user_id,
            "settled_at": now(),
            "tokens": list(revoked.tokens),
        }
        self._lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        return record

    def close(self) -> None:
        self._lines.close()


def write_files(
    directory: Path, records: Iterable[Mapping[str, Any]], summary: Mapping[str, Any]
) -> Counter[str]:
    """Every list and summary.json, from the journal's records."""
    rows = sorted(records, key=lambda r: (r["row"], r["account"]))
    counts: Counter[str] = Counter(str(r["outcome"]) for r in rows)
    _csv(directory / "results.csv", RESTORE_COLUMNS, rows)
    for outcome in RestoreOutcome:
        if outcome in RESTORE_ALWAYS_WRITTEN or counts[outcome]:
            _csv(
                directory / f"{outcome}.csv",
                RESTORE_COLUMNS,
                [r for r in rows if r["outcome"] == outcome],
            )
    gone = [
        {
            "row": r["row"],
            "account": r["account"],
            "user_id": r["user_id"],
            "email": r["email"],
            "token_id": t.get("id"),
            "token_name": t.get("name"),
            "token_role": t.get("role"),
            "expires": t.get("expires"),
        }
        for r in rows
        for t in r.get("tokens") or ()
    ]
    _csv(
        directory / "tokens_gone.csv",
        ("row", "account", "user_id", "email", "token_id", "token_name", "token_role", "expires"),
        gone,
    )
    write_private(
        directory / "summary.json",
        json.dumps({**summary, "rows": len(rows), "counts": dict(counts)}, indent=2) + "\n",
    )
    write_private(directory / "summary.txt", _page(rows, counts, summary))
    return counts


def _page(rows: list[Mapping[str, Any]], counts: Counter[str], summary: Mapping[str, Any]) -> str:
    """summary.txt: what the restore did, for people (and cron's mail)."""
    what = "Restore plan" if summary.get("plan") else "Restore"
    head = (
        f"{what} of {summary.get('report')} ({len(rows)} rows), exit code "
        f"{summary.get('exit_code')}"
    )
    lines = [
        head,
        "=" * len(head),
        "",
        "Counts: " + (", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "none"),
        "",
        *result_lines(rows),
    ]
    new = new_users(rows)
    if new:
        lines += [
            "",
            f"{new} user{'' if new == 1 else 's'} came back with a new ID: they must "
            "accept the invitation e-mail before they can sign in.",
        ]
    return "\n".join(lines) + "\n"


def new_users(records: Iterable[Mapping[str, Any]]) -> int:
    """Users who came back under a new ID: counted once each, however many of their pairs
    (a row that named them everywhere gives one per account) the restore gave back."""
    return len(
        {
            r.get("user_id")
            for r in records
            if r.get("new_user_id") not in (None, "", r.get("user_id"))
        }
    )


SHOWN = 50  # result lines printed after a restore; the rest are in results.csv


def result_lines(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """What a restore prints, from its journal's records: each row's outcome and message (a
    new user ID included), then the tokens that cannot come back."""
    ordered = sorted(records, key=lambda r: (r["row"], r["account"]))
    tokens_gone = sum(len(r.get("tokens") or ()) for r in ordered)
    lines = [
        f"row {r['row']}: {r.get('email') or r.get('user_id')} account {r['account']}: "
        f"{r['outcome']}: {r.get('message', '')}"
        for r in ordered[:SHOWN]
    ]
    if len(ordered) > SHOWN:
        lines.append(f"... and {len(ordered) - SHOWN} more: see results.csv")
    if tokens_gone:
        lines.append(
            f"{tokens_gone} API token{'' if tokens_gone == 1 else 's'} the run deleted "
            "cannot come back (see tokens_gone.csv): issue new ones if still needed"
        )
    return lines


def exit_code(counts: Mapping[str, int], aborted: bool) -> int:
    """3 aborted; 0 when every row is back or would be (`--plan`); else 1."""
    if aborted:
        return 3
    return 0 if all(RestoreOutcome(o) in RESTORE_FINE for o, n in counts.items() if n) else 1


def _csv(path: Path, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    write_private(path, buffer.getvalue(), encoding="utf-8-sig")


def _cell(value: Any) -> Any:
    """None is empty; a cell a spreadsheet would run as a formula is neutralised, by the
    same rule as the run's lists."""
    if value is None:
        return ""
    return neutralise(value) if isinstance(value, str) else value
