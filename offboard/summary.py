"""summary.json: the counts the contract promises, and the audit record of the run."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from . import __version__
from .models import Outcome, Result

SHOWN = 20  # rows needing a person kept for the terminal; all of them are in the report


class Totals:
    """What the end of a run needs from its results, counted as they stream past
    (memory grows with users, not rows)."""

    def __init__(self, doomed: frozenset[int]) -> None:
        self.rows = 0
        self.counts = {str(o): 0 for o in Outcome}
        self.needing_a_person: list[Result] = []
        self._doomed = doomed
        self._went_through: set[int] = set()
        self._left_behind: set[int] = set()

    def add(self, result: Result) -> None:
        self.rows += 1
        self.counts[result.outcome] += 1
        if not result.outcome.settled and len(self.needing_a_person) < SHOWN:
            self.needing_a_person.append(result)
        if result.user_id in self._doomed:
            if not result.outcome.settled:
                self._left_behind.add(result.user_id)
            elif result.outcome in (Outcome.REVOKED, Outcome.WOULD_REVOKE):
                self._went_through.add(result.user_id)

    @property
    def all_settled(self) -> bool:
        return all(self.counts[o] == 0 for o in Outcome if not o.settled)

    @property
    def users_deleted(self) -> int:
        """Doomed users (every account in the batch) whose revoke went, or would go,
        through with none of their accounts left behind (missing rows are already gone)."""
        return len(self._went_through - self._left_behind)


def build(*, command: str, run_id: str, totals: Totals, exit_code: int,
          started: datetime, source: str, source_sha256: str,
          plan: Mapping[str, str] | None, aborted: str, revocations: int,
          key_user: int | None, options: Mapping[str, Any],
          resumed: int | None) -> dict[str, Any]:
    return {
        "command": command,
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
        "users_deleted" if command == "run" else "users_would_be_deleted": totals.users_deleted,
        "offboard_version": __version__,
        "run_by": who(),
        "key_user": key_user,
        "options": dict(options),
    }


def who() -> str:
    """The OS user and host running offboard, for the audit record."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
