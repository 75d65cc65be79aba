"""The report files people open, written at the end from the journal's input-order records.

One pass over ordered.jsonl's records (journal/writer.py: kept in memory for a batch
of up to 5,000 rows, else read back) applies the read-back's verdicts
(execute/verify.py, report/amended.py) and writes every list and results.jsonl, each row's
CSV line made once for every list that holds it, while counting what the
summary, the pages and the exit code show (Totals, the per-account breakdown,
the deleted users, the rows that need a person): nothing is counted anywhere
else. Lists earlier runs into the same directory left (a resume) are removed.
Every row whose record carries its user's login fact (the record's `login`,
execute/activity.py) goes to last_logins.csv; those whose user signed in after the
row's leave_date also go to logins_after_leaving.csv.

The CSVs are UTF-8 with a byte-order mark, so Excel opens names with accents
correctly (without it, Excel reads UTF-8 as the local code page); results.jsonl
stays plain UTF-8, exactly machine-readable.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..core.directory import Person
from ..core.models import Mode
from ..journal.files import open_private
from ..journal.layout import LIVE, internal
from ..journal.writer import Kept
from .amended import amended
from .cells import Line, cells, with_bom
from .cells import neutralise as neutralise  # where the restore and the tests take it
from .pagedata import SHOWN_PER_OUTCOME
from .people import PEOPLE_COLUMNS, PEOPLE_FILE, People, Verdict, account_list
from .summary import Totals, outcome_of

ACCOUNTS_SHOWN = 1000  # accounts counted one by one; the rest are counted together
AFTER_LEAVING_FILE = "logins_after_leaving.csv"  # written when any such login was found
AFTER_LEAVING_COLUMNS = (
    "row",
    "account",
    "user",
    "user_id",
    "email",
    "leave_date",
    "login_at",
    "ip_address",
    "user_agent",
    "account_name",  # last: added after these lists were in use (issue 21)
)
LOGINS_FILE = "last_logins.csv"  # written when the login log was read
LOGINS_COLUMNS = (
    "row",
    "account",
    "user",
    "user_id",
    "email",
    "name",
    "flag",
    "leave_date",
    "login_at",
    "ip_address",
    "user_agent",
    "note",
    "account_name",  # last: added after these lists were in use (issue 21)
)


@dataclass
class Written:
    """What the pass counted: everything shown afterwards comes from here."""

    totals: Totals = field(default_factory=Totals)
    accounts: dict[str, dict[str, int]] = field(default_factory=dict)
    deleted: list[Mapping[str, Any]] = field(default_factory=list)
    needing: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    more: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # the records by login flag, and under "all" every record whose user was seen signing
    # in (at most SHOWN_PER_OUTCOME each), and how many of each flag
    logins: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    login_counts: dict[str, int] = field(
        default_factory=lambda: {"after_leaving": 0, "active": 0, "quiet": 0, "unknown": 0}
    )
    signed_in: int = 0  # rows whose user the login log shows signing in
    not_seen: int = 0  # rows read in the log with no successful sign-in: one line, no table
    people: People = field(default_factory=lambda: People(shown=SHOWN_PER_OUTCOME))

    def add(self, record: Mapping[str, Any]) -> None:
        self.totals.add(record)
        self.people.add(record)
        login = record.get("login")
        flag = login.get("flag") if isinstance(login, dict) else None
        if isinstance(login, dict) and flag in self.login_counts:
            self.login_counts[flag] += 1
            seen = bool(login.get("login_at"))
            self.signed_in += seen
            self.not_seen += flag == "quiet" and not seen
            for key in (flag, "all") if seen else (flag,):
                shown = self.logins.setdefault(key, [])
                if len(shown) < SHOWN_PER_OUTCOME:
                    shown.append(record)
        outcome = str(record["outcome"])
        name = str(record.get("account"))
        if name not in self.accounts and len(self.accounts) >= ACCOUNTS_SHOWN:
            name = "other accounts"  # bounded: a hostile file may name a million accounts
        account = self.accounts.setdefault(name, {})
        account[outcome] = account.get(outcome, 0) + 1
        if record.get("user_deleted") is True and len(self.deleted) < SHOWN_PER_OUTCOME:
            self.deleted.append(record)
        if not outcome_of(outcome).settled:
            shown = self.needing.setdefault(outcome, [])
            if len(shown) < SHOWN_PER_OUTCOME:
                shown.append(record)
            else:
                self.more[outcome] = self.more.get(outcome, 0) + 1


def write_lists(
    directory: Path,
    header: Sequence[str],
    ordered: Path,
    mode: Mode,
    verdicts: Mapping[tuple[int, int], Mapping[str, Any]],
    kept: Kept | None = None,
    on_disk: Callable[[Callable[[], None]], None] | None = None,
) -> Written:
    """Write results.csv, the per-outcome lists and results.jsonl from `ordered` (or from
    `kept`, its lines and records as the journal's writer kept them), with each pair's
    read-back verdict (by row and account) applied; count as they go.

    The last step (every list fsync'd, closed and renamed into place, stale lists removed)
    is handed to `on_disk` to run where it likes (job/outputs.py: on a thread, beside
    people.csv's CPU); without it, it is run before this returns."""
    written = Written()
    inside = internal(directory)
    tables: dict[str, IO[str]] = {}
    # Each CSV line is made once, then written to every list that holds the row.
    line = Line()
    # CRLF, as RFC 4180 says: a cell holding a bare CR is then quoted, not split.
    formatter = csv.writer(line, lineterminator="\r\n")

    def table(name: str, columns: Sequence[str] = header) -> IO[str]:
        handle = tables.get(name)
        if handle is None:
            handle = tables[name] = with_bom(open_private(inside / f"{name}.tmp"))
            formatter.writerow(columns)
            handle.write(line.text)
        return handle

    for outcome in mode.always_written:
        table(f"{outcome}.csv")
    results = table("results.csv")
    jsonl = open_private(inside / f"{LIVE}.tmp")
    try:
        for text, record in kept if kept is not None else _read(ordered):
            account = record["account"]
            verdict = verdicts.get((record["row"], account)) if type(account) is int else None
            if verdict is not None:
                text, record = amended(text, record, verdict)
            written.add(record)
            # each list opened (its header written) before the row's line is made
            handle = table(f"{record['outcome']}.csv")
            formatter.writerow(cells(record, header))
            results.write(line.text)
            handle.write(line.text)
            login = record.get("login")
            if isinstance(login, dict):
                lists: list[tuple[str, Sequence[str]]] = [(LOGINS_FILE, LOGINS_COLUMNS)]
                if login.get("flag") == "after_leaving":
                    lists.append((AFTER_LEAVING_FILE, AFTER_LEAVING_COLUMNS))
                for name, columns in lists:
                    handle = table(name, columns)
                    formatter.writerow(cells(record, columns, login))
                    handle.write(line.text)
            jsonl.write(text)
        jsonl.flush()
    except BaseException:
        jsonl.close()
        for handle in tables.values():
            handle.close()
        raise
    written.files = sorted(tables)

    def settle() -> None:
        """Every list on disk under its own name; each is closed whatever fails."""
        try:
            for handle in [jsonl, *tables.values()]:
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            for handle in [jsonl, *tables.values()]:
                handle.close()
        for name in [*tables, LIVE]:
            os.replace(inside / f"{name}.tmp", directory / name)
        for stale in directory.glob("*.csv"):
            if stale.name not in tables and stale.name != PEOPLE_FILE:
                stale.unlink()

    if on_disk is None:
        settle()
    else:
        on_disk(settle)
    return written


def _read(ordered: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """ordered.jsonl's lines and records, one at a time (a batch too big to keep)."""
    with ordered.open(encoding="utf-8") as source:
        for text in source:
            yield text, json.loads(text)


def write_people(
    directory: Path,
    people: People,
    before: Mapping[int, Person],
    names: Mapping[int, str],
    after: Mapping[int, frozenset[int]] | None,
    mode: Mode,
) -> Verdict:
    """people.csv (always; header only when the batch names no one the list knows), one
    line per person in input order; the verdict the summary and the exit code use."""
    verdict = Verdict()
    temporary = internal(directory) / f"{PEOPLE_FILE}.tmp"
    with with_bom(open_private(temporary)) as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(PEOPLE_COLUMNS)
        lists: dict[tuple[int, ...], str] = {}  # account_list's text, once per account set

        def listed(accounts: list[dict[str, Any]]) -> str:
            ids = tuple([a["id"] for a in accounts])
            text = lists.get(ids)
            if text is None:
                text = lists[ids] = account_list(accounts)
            return text

        for line in people.lines(before, names, after, mode):
            verdict.add(line, SHOWN_PER_OUTCOME)
            shown = {
                **line,
                "accounts_before": listed(line["before"]),
                "revoked": listed(line["revoked"]),
                "still_reaches": listed(line["still_reaches"]),
            }
            writer.writerow(cells(shown, PEOPLE_COLUMNS))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / PEOPLE_FILE)
    return verdict
