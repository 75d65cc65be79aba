"""The report directory while a run writes it: run.json, the journal and what streams past
(the files and their places: journal/layout.py).

Every other file of DIR (the lists, summary.json, report.html, summary.txt) is
written at the end by report/lists.py from the records ordered.jsonl holds (kept in
memory as they are written, for a batch of up to KEPT_RECORDS rows), so what the
directory holds is exactly what the journal says.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

from ..core.directory import Person
from ..core.errors import SettingsError
from ..core.fs import exists, reason
from ..core.models import REPORT_COLUMNS, Result, Row
from ..core.words import plain
from ..plan.deletions import Deletions
from .files import JsonLines, _open_private, encoded, write_private
from .group_commit import GroupCommit
from .layout import IN_FLIGHT, JOURNAL, LIVE, META, ORDERED, internal, make_dir
from .record import record_of

# Records kept in memory, in input order, for the lists written at the end (report/lists.py):
# they need not be read back from ordered.jsonl and parsed again (~30 ms for 3,000 rows).
# Each costs ~2.8 KB with its line; past this many (~14 MB), the lists read the file
# instead, and memory stays bounded whatever the batch.
KEPT_RECORDS = 5_000
Kept = list[tuple[str, dict[str, Any]]]  # each row's JSON line and its record, in input order


class Report:
    """One run's report directory, while the run writes it."""

    def __init__(self, directory: Path, columns: Sequence[str]) -> None:
        self.directory = directory
        self._people: Mapping[int, Person] = {}
        self._meta: dict[str, Any] | None = None
        # Carried columns that share a name with a report column get a prefix.
        self.carried = {c: (f"input_{c}" if c in REPORT_COLUMNS else c) for c in columns}
        self.header = [*REPORT_COLUMNS, *self.carried.values()]
        self._journal: JsonLines | None = None
        self._live: IO[str] | None = None
        self._in_flight: IO[str] | None = None
        self._ordered: IO[str] | None = None
        # Each record's JSON line (and the record), kept until the row is written in input
        # order (at most the reorder window), so each row is formatted once.
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}
        self._kept: Kept | None = []  # None: past KEPT_RECORDS, ordered.jsonl is read instead

    @classmethod
    def create(cls, directory: Path, columns: Sequence[str], meta: dict[str, Any]) -> Report:
        """A new report directory that holds run.json from the moment it exists: made under
        a temporary name and renamed, so a run killed at any point leaves either nothing or
        a directory that --resume can continue with the run's own options. An unwritable
        place fails here, before the first request."""
        temporary = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
        for parent in directory.parents:
            if (
                exists(parent, SettingsError, f"report directory {directory}: ")
                and not parent.is_dir()
            ):
                raise SettingsError(
                    f"report directory {directory}: {parent} is a file, not a directory"
                )
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir(mode=0o700)
            os.chmod(temporary, 0o700)
            make_dir(temporary)
            cls(temporary, columns).write_meta(meta)
            os.rename(temporary, directory)
        except OSError as exc:
            shutil.rmtree(temporary, ignore_errors=True)
            raise SettingsError(f"report directory {directory}: {reason(exc)}") from None
        report = cls(directory, columns)
        report._meta = meta
        return report

    def open(self, people: Mapping[int, Person] | None = None) -> None:
        """Open the journal; `people` gives the names and emails of the report's rows."""
        self._people = people or {}
        inside = internal(self.directory)
        self._journal = JsonLines(inside / JOURNAL, GroupCommit)
        self._in_flight = _open_private(inside / IN_FLIGHT, "a")
        (inside / ORDERED).unlink(missing_ok=True)
        self._ordered = _open_private(inside / ORDERED, "x")
        self._live = _open_private(self.directory / LIVE, "a")

    def write_meta(self, meta: dict[str, Any]) -> None:
        """run.json: what a resume needs to know about the run (journal/reader.py)."""
        self._meta = meta
        write_private(
            internal(self.directory) / META, json.dumps(meta, ensure_ascii=False) + "\n"
        )  # C encoder: no indent

    def record_batch(
        self, deletions: Deletions, people: Mapping[int, Person], names: Mapping[int, str]
    ) -> None:
        """Add to run.json, before the first DELETE, who the batch deletes and its users as
        the user list showed them (name, email, language, role in each account): a resume,
        when some are already deleted, reports the same, and a restore gives back the
        roles they had. A resume (its run.json read from disk) adds what it learnt to what
        was recorded: a user's accounts gained since, whose roles a restore needs too."""
        meta = self._meta if self._meta is not None else _on_disk(self.directory)
        if meta is None:
            return
        recorded, known = (
            value if isinstance(value := meta.get(key), dict) else {}
            for key in ("people", "account_names")
        )
        # the names of the accounts the batch's people reach, as the user list showed them
        shown = {
            str(account): names[account]
            for account in sorted({a for p in people.values() for a in p.accounts})
            if account in names
        }
        if not ({"deletions", "people", "account_names"} & meta.keys()):
            self._write_first(meta, deletions, people, shown)
            return
        self.write_meta(
            {
                **meta,
                "deletions": deletions.to_json(),
                "people": {**recorded, **{str(p.id): p.to_json() for p in people.values()}},
                "account_names": {**known, **shown},
            }
        )

    def _write_first(
        self,
        meta: dict[str, Any],
        deletions: Deletions,
        people: Mapping[int, Person],
        shown: Mapping[str, str],
    ) -> None:
        """`record_batch` when run.json records no batch yet (a first run): the same text
        as `write_meta` would write, each person's part made by Person.encoded, without a
        dict and an encoder call a person (about 30 ms for 3,000, before the first DELETE)."""
        tail = {"account_names": shown}
        head = {**meta, "deletions": deletions.to_json()}
        parts = ", ".join([f'"{p.id}": {p.encoded()}' for p in people.values()])
        text = (
            json.dumps(head, ensure_ascii=False)[:-1]
            + f', "people": {{{parts}}}, '
            + json.dumps(tail, ensure_ascii=False)[1:]
        )
        write_private(internal(self.directory) / META, text + "\n")
        self._meta = None  # a later record_batch reads it back from disk

    def mark_sending(self, row: Row, account: int | None) -> None:
        """Note a row just before its first request (see journal/reader.py)."""
        assert self._in_flight is not None
        self._in_flight.write(
            encoded(
                {
                    "row": row.number,
                    "account": account if account is not None else plain(row.account),
                    "user": plain(row.user),
                }
            )
            + "\n"
        )
        self._in_flight.flush()

    def record(self, result: Result) -> dict[str, Any]:
        return record_of(result, self._people, self.carried)

    def settled(self, result: Result) -> None:
        """Append one settled row to the journal (and to results.jsonl for people watching):
        the row sink the executor calls before any other (core/sinks.py).

        Flushed at once, so a killed process loses nothing, and fsync'd by a
        background thread right after (see GroupCommit), so a power cut loses at
        most the rows of one fsync while the event loop never waits on the disk.
        """
        assert self._journal is not None and self._live is not None
        record = self.record(result)
        line = encoded(record) + "\n"
        self._pending[id(result)] = (line, record)
        self._journal.append(line)
        self._live.write(line)
        self._live.flush()

    def amend_verdicts(self, verdicts: Iterable[tuple[int, int, Any, Mapping[str, Any]]]) -> None:
        """Journal the read-back's verdicts: for each (row, account, user, verdict) the line
        {"row", "account", "user", "amend": true, **verdict} (the last record of a row wins),
        all flushed once, not once a row. Each verdict's part is encoded once for every row
        that shares it (the read-back listing's one word on every row it shows gone: 3,000
        records, ~10 ms less)."""
        assert self._journal is not None
        parts: dict[int, str] = {}
        lines = []
        for row, account, user, verdict in verdicts:
            part = parts.get(id(verdict))
            if part is None:
                text = encoded(verdict)
                part = parts[id(verdict)] = "}" if text == "{}" else ", " + text[1:]
            head = encoded({"row": row, "account": account, "user": user, "amend": True})
            lines.append(f"{head[:-1]}{part}\n")
        self._journal.append_all(lines)

    def carry(self, result: Result, record: Mapping[str, Any]) -> None:
        """A row an earlier run into this directory settled: its record is written again as
        it is (names, times and marks included), not rebuilt from what is known now."""
        full = {name: record.get(name) for name in self.header}
        full |= {k: v for k, v in record.items() if k not in full}
        self._pending[id(result)] = (encoded(full) + "\n", full)

    def write(self, result: Result) -> None:
        """Add one row, in input order, to ordered.jsonl (and to what `kept` returns)."""
        pending = self._pending.pop(id(result), None)
        if pending is None:
            record = self.record(result)
            pending = (encoded(record) + "\n", record)
        assert self._ordered is not None
        self._ordered.write(pending[0])
        kept = self._kept
        if kept is not None:
            if len(kept) < KEPT_RECORDS:
                kept.append(pending)
            else:
                self._kept = None

    def kept(self) -> Kept | None:
        """ordered.jsonl's lines and records as written, when the batch was small enough to
        keep them (None: read the file). The records are not changed after they are written."""
        return self._kept

    def flush(self) -> Path:
        """Hand every line written so far to the operating system (no fsync): ordered.jsonl,
        complete, can then be read while `close` fsyncs it (job/outputs.py)."""
        for handle in (self._in_flight, self._ordered, self._live):
            if handle is not None:
                handle.flush()
        return internal(self.directory) / ORDERED

    def close(self) -> Path:
        """Close every file; ordered.jsonl, complete, is what report/lists.py reads (unless
        it was kept). Every file is closed even when one's fsync fails; the first failure is
        raised after."""
        failed: OSError | None = None
        closes = [] if self._journal is None else [self._journal.close]
        for handle in (self._in_flight, self._ordered, self._live):
            if handle is not None:
                closes.append(partial(_synced_close, handle))
        self._journal = self._in_flight = self._ordered = self._live = None
        for close in closes:
            try:
                close()
            except OSError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
        return internal(self.directory) / ORDERED


def _synced_close(handle: IO[str]) -> None:
    """Flush, fsync and close `handle`: closed whatever the first two raise."""
    try:
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()


def _on_disk(directory: Path) -> dict[str, Any] | None:
    """run.json as a run being resumed wrote it (None: unreadable, then left as it is)."""
    try:
        meta = json.loads((internal(directory) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
