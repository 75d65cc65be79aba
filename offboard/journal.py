"""The journal: what a report directory already knows, for `--resume DIR`.

A report directory holds, besides the report:

- `run.json`: the SOURCE and its sha256, written before the first request, so a
  resume can refuse a different SOURCE;
- `results.jsonl`: one record per settled row, appended and fsync'd (the last
  record of a row wins);
- `inflight.jsonl`: a line per row just before its first request. A row there
  with no settled record was in flight when the run died: its revoke may have
  been applied, so a 404 on resume is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Refused
from .models import Outcome, Result, Row, plain

RowKey = tuple[int, str, str]

# Settled for good: resuming never sends these again.
KEPT = frozenset({Outcome.REVOKED, Outcome.MISSING, Outcome.DUPLICATE, Outcome.INVALID})


def row_key(row: Row, account: int | None) -> RowKey:
    """Identifies a row across runs of the same SOURCE."""
    return (row.number, str(account if account is not None else plain(row.account)),
            str(plain(row.user)))


def record_key(record: Mapping[str, Any]) -> RowKey:
    return (int(record["row"]), str(record["account"]), str(record["user"]))


@dataclass(frozen=True, slots=True)
class Previous:
    """What an earlier run into this directory settled, and what it left in flight."""

    settled: Mapping[RowKey, Mapping[str, Any]]
    in_flight: frozenset[RowKey]

    def kept(self, key: RowKey, row: Row) -> Result | None:
        """The earlier result of a row that must not be sent again, else None."""
        record = self.settled.get(key)
        if record is None or Outcome(record["outcome"]) not in KEPT:
            return None
        return Result(row, Outcome(record["outcome"]), _int(record.get("account")),
                      _int(record.get("user_id")), _int(record.get("http_status")),
                      int(record.get("attempts") or 0), str(record.get("request_id") or ""),
                      str(record.get("message") or ""))


def read_previous(directory: Path, sha256: str) -> Previous:
    """Read an earlier run's journal; refuse a directory of another SOURCE."""
    meta_path = directory / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Refused(f"--resume {directory}: no run.json: not an offboard report directory"
                      ) from None
    except (OSError, ValueError) as exc:
        raise Refused(f"--resume {directory}: run.json unreadable ({type(exc).__name__})"
                      ) from None
    if meta.get("source_sha256") != sha256:
        raise Refused(f"--resume {directory}: that run was of another SOURCE "
                      f"({meta.get('source')}, sha256 differs); resume with the same file")
    settled = {record_key(r): r for r in _records(directory / "results.jsonl")}
    started = {record_key(r) for r in _records(directory / "inflight.jsonl")}
    return Previous(settled, frozenset(started - settled.keys()))


def _records(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line; a torn last line (killed mid-write) is ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
            record_key(record)
        except (ValueError, KeyError, TypeError):
            continue
        records.append(record)
    return records


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
