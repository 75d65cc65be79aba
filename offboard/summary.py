"""summary.json: the counts the contract promises, and the audit record of the run."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from . import __version__
from .models import Outcome, Result


def counts(results: Sequence[Result]) -> dict[str, int]:
    tally = {str(o): 0 for o in Outcome}
    for result in results:
        tally[result.outcome] += 1
    return tally


def users_deleted(results: Sequence[Result], doomed: frozenset[int]) -> int:
    """Doomed users (every account in the batch) whose revoke went, or would go, through
    with none of their accounts left behind (missing rows are already gone)."""
    left_behind = {r.user_id for r in results if not r.outcome.settled}
    went_through = {r.user_id for r in results
                    if r.outcome in (Outcome.REVOKED, Outcome.WOULD_REVOKE)}
    return len((went_through & doomed) - left_behind)


def build(*, command: str, run_id: str, results: Sequence[Result], exit_code: int,
          started: datetime, source: str, source_sha256: str,
          plan: Mapping[str, str] | None, aborted: str, revocations: int, deleted: int,
          key_user: int | None, options: Mapping[str, Any],
          resumed: int | None) -> dict[str, Any]:
    return {
        "command": command,
        "run_id": run_id,
        "rows": len(results),
        "counts": counts(results),
        "exit_code": exit_code,
        "started_at": iso(started),
        "finished_at": iso(datetime.now(UTC)),
        "source": source,
        "source_sha256": source_sha256,
        "plan": plan,
        "aborted": aborted or None,
        "resumed": resumed,
        "revocations_planned": revocations,
        "users_deleted" if command == "run" else "users_would_be_deleted": deleted,
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
