"""summary.json: the counts the contract promises, and the audit record of the run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..core.models import Mode, Outcome

SHOWN = 20  # rows needing a person kept for the terminal; all of them are in the report


_OUTCOMES = {str(o): o for o in Outcome}


def outcome_of(value: Any) -> Outcome:
    """Outcome(value), by a dict look-up for the contract's strings (the Enum's call costs
    more than the rest of a record's counting); anything else raises as Outcome() does."""
    try:
        return _OUTCOMES[value]
    except (KeyError, TypeError):
        return Outcome(value)


class Totals:
    """The counts of a run, computed from the journal's records in input order (every row
    once, carried rows included); memory does not grow with rows."""

    def __init__(self) -> None:
        self.rows = 0
        self.counts = {str(o): 0 for o in Outcome}
        self.needing_a_person: list[Mapping[str, Any]] = []  # the first SHOWN of them
        self.users_deleted = 0  # rows marked user_deleted: each deleted user marks one row

    def add(self, record: Mapping[str, Any]) -> None:
        self.rows += 1
        outcome = outcome_of(record["outcome"])
        self.counts[outcome] += 1
        if not outcome.settled and len(self.needing_a_person) < SHOWN:
            self.needing_a_person.append(record)
        self.users_deleted += record.get("user_deleted") is True

    @property
    def open_rows(self) -> int:
        """Rows that still need a person (for a run: whose leaver may still have access)."""
        return sum(n for o, n in self.counts.items() if not Outcome(o).settled)

    @property
    def all_settled(self) -> bool:
        return self.open_rows == 0


def build(
    *,
    mode: Mode,
    run_id: str,
    totals: Totals,
    exit_code: int,
    started: datetime,
    source: str,
    source_sha256: str,
    plan: Mapping[str, str] | None,
    aborted: str,
    revocations: int,
    key_user: int | None,
    options: Mapping[str, Any],
    resumed: int | None,
) -> dict[str, Any]:
    return {
        "command": str(mode),  # the public string, as run.json says it
        "run_id": run_id,
        "rows": totals.rows,
        "counts": totals.counts,
        "exit_code": exit_code,
        "started_at": iso(started),
        "finished_at": iso(datetime.now(UTC)),
        "source": source,
        "source_sha256": source_sha256,
        "plan": plan,
        "aborted": aborted or None,
        "resumed": resumed,
        "revocations_planned": revocations,
        "users_deleted" if mode is Mode.RUN else "users_would_be_deleted": totals.users_deleted,
        "offboard_version": __version__,
        "run_by": who(),
        "key_user": key_user,
        "options": dict(options),
    }


def who() -> str:
    """The OS user and host running offboard, for the audit record."""
    # Imported here, at the finish; the host's name from platform (click has loaded it), not
    # socket: a run without rows would load socket (~3 ms) for this alone. Both ask uname().
    import getpass
    import platform

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{platform.node()}"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
