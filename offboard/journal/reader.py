"""The journal: what a report directory already knows, for `--resume DIR`.

A report directory keeps, in its hidden `.offboard/` folder (journal/writer.py):

- `run.json`: the SOURCE and its sha256, and the options the run was given,
  written before the first request, so a resume can refuse a different SOURCE
  and reuse the same options; then, before the first DELETE, who the batch
  deletes (plan/deletions.py), so a resume marks the same rows;
- `journal.jsonl`: one record per settled row, appended and fsync'd as it
  settles; the last record of a row wins, and an amendment (`"amend": true`,
  the read-back's verdict) changes the fields it names;
- `inflight.jsonl`: a line per row just before its first request. A row there
  with no settled record was in flight when the run died: its revoke may have
  been applied, so a 404 on resume is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.directory import Person
from ..core.errors import Refused
from ..core.fs import exists, reason
from ..core.models import MAYBE_APPLIED, NOT_SENT_AGAIN, Outcome, Result, Row
from ..core.words import plain
from ..plan.deletions import Deletions
from .layout import IN_FLIGHT, INTERNAL, JOURNAL, LIVE, META, internal

RowKey = tuple[int, str, str]


def row_key(row: Row, account: int | None) -> RowKey:
    """Identifies a row across runs of the same SOURCE."""
    return (
        row.number,
        str(account if account is not None else plain(row.account)),
        str(plain(row.user)),
    )


def record_key(record: Mapping[str, Any]) -> RowKey:
    return (int(record["row"]), str(record["account"]), str(record["user"]))


@dataclass(frozen=True, slots=True)
class Previous:
    """What an earlier run into this directory settled, and what it left in flight."""

    settled: Mapping[RowKey, Mapping[str, Any]]
    in_flight: frozenset[RowKey]
    options: Mapping[str, Any] | None = None  # as recorded in run.json (None: not recorded)
    deletions: Deletions | None = None  # the run's, as recorded (None: decide again)
    people: Mapping[int, Person] = field(default_factory=dict)  # the batch's users, recorded
    names: Mapping[int, str] = field(default_factory=dict)  # their accounts' names, recorded
    # The run wrote its summary: this is a retry of a finished run (a folder's open job), not
    # the continuation of one that was cut off.
    finished: bool = False

    def record(self, key: RowKey) -> Mapping[str, Any]:
        return self.settled[key]

    def kept(self, key: RowKey, row: Row) -> Result | None:
        """The earlier result of a row that must not be sent again, else None."""
        record = self.settled.get(key)
        if record is None or Outcome(record["outcome"]) not in NOT_SENT_AGAIN:
            return None
        everywhere = record.get("everywhere") is True
        if record["outcome"] == Outcome.FORBIDDEN and everywhere and self.finished:
            # A retry asks a pair of a row that names its person everywhere again: the person
            # is not gone while they reach that account, and the job (a folder's, kept open
            # for them) finishes once someone lets the key manage it (revoked) or removes
            # them there (missing). Continuing a run that was cut off sends no pair twice.
            return None
        deleted = record.get("user_deleted")
        message = str(record.get("message") or "")
        return Result(
            row,
            Outcome(record["outcome"]),
            _int(record.get("account")),
            _int(record.get("user_id")),
            _int(record.get("http_status")),
            int(record.get("attempts") or 0),
            str(record.get("request_id") or ""),
            message,
            user_deleted=deleted if isinstance(deleted, bool) else None,
            settled_at=str(record.get("settled_at") or ""),
            maybe_applied=_maybe_applied(record, message),
            account_name=str(record.get("account_name") or ""),
            everywhere=record.get("everywhere") is True,
        )


def read_previous(directory: Path, sha256: str) -> Previous:
    """Read an earlier run's journal; refuse a directory of another SOURCE."""
    inside = _inside(directory)
    try:
        meta = json.loads((inside / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Refused(
            f"--resume {directory}: no {INTERNAL}/{META}: not an offboard report directory"
        ) from None
    except OSError as exc:
        raise Refused(f"--resume {directory}: {INTERNAL}/{META}: {reason(exc)}") from None
    except ValueError:
        raise Refused(
            f"--resume {directory}: {INTERNAL}/{META} is not valid JSON (damaged?)"
        ) from None
    if meta.get("source_sha256") != sha256:
        raise Refused(
            f"--resume {directory}: that run was of another SOURCE "
            f"({meta.get('source')}, sha256 differs); resume with the same file"
        )
    journal = inside / JOURNAL if inside != directory else directory / LIVE
    settled: dict[RowKey, Mapping[str, Any]] = {}
    for record in records(journal):
        key = record_key(record)
        # An amendment (the read-back's verdict) changes some fields of the row's record.
        settled[key] = {**settled.get(key, {}), **record} if record.get("amend") else record
    started = {record_key(r) for r in records(inside / IN_FLIGHT)}
    options = meta.get("options")
    return Previous(
        settled,
        frozenset(started - settled.keys()),
        options if isinstance(options, dict) else None,
        Deletions.from_json(meta.get("deletions")),
        _people(meta.get("people")),
        _names(meta.get("account_names")),
        (directory / "summary.json").exists(),
    )


def run_meta(directory: Path) -> dict[str, Any] | None:
    """A report directory's run.json (inside .offboard/, or beside the report before 0.2),
    or None where there is none to read: for a caller that only asks, as a fresh run looking
    for an unfinished one does (read_previous refuses instead)."""
    for path in (internal(directory) / META, directory / META):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        return meta if isinstance(meta, dict) else None
    return None


def _inside(directory: Path) -> Path:
    """Where a report directory keeps its internal files (before 0.2: beside the report)."""
    inside = internal(directory)
    where = f"--resume {directory}: "
    if exists(inside / META, Refused, where) or not exists(directory / META, Refused, where):
        return inside
    return directory


def _people(data: Any) -> dict[int, Person]:
    if not isinstance(data, dict):
        return {}
    return {
        int(key): Person.from_json(int(key), value)
        for key, value in data.items()
        if str(key).isdigit() and isinstance(value, dict)
    }


def _names(data: Any) -> dict[int, str]:
    if not isinstance(data, dict):
        return {}
    return {int(k): v for k, v in data.items() if str(k).isdigit() and isinstance(v, str)}


def records(
    path: Path, key: Callable[[Mapping[str, Any]], object] = record_key
) -> list[dict[str, Any]]:
    """Every complete JSON line that `key` can identify (a run's records by default; a
    restore's by its own key); a torn last line (killed mid-write) is ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise Refused(f"{path}: cannot read: {reason(exc)}") from None
    found = []
    for line in lines:
        try:
            record = json.loads(line)
            key(record)
        except (ValueError, KeyError, TypeError):
            continue
        found.append(record)
    return found


def _maybe_applied(record: Mapping[str, Any], message: str) -> bool:
    """The record's `maybe_applied` mark. A journal written before the mark existed (or a
    carried input column of that name, which the record keeps instead) has none: then the
    contract's words in the message, which classify wrote on exactly those rows, say it.
    This is the one place the message is read for it."""
    mark = record.get("maybe_applied")
    return mark if isinstance(mark, bool) else MAYBE_APPLIED in message


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
