"""The machine-readable plan: what `plan` reviewed, so that `run PLANFILE` does exactly that.

`plan.json` records every row with its resolved IDs and planned outcome, the
SOURCE's path and sha256, when and by whom it was made, and the key's user.
`run PLANFILE` sends exactly the rows planned `would_revoke` or `token_blocked`
without resolving anything again, and refuses a plan whose SOURCE has changed,
one made with another key's user, or one older than MAX_AGE.

A row that named its person everywhere (`*`) is one plan row per account it expanded
to, each marked `"everywhere": true`, so that the run reports them as a run of the
SOURCE would (people.csv, the exit code of a person still reaching an account); the
plan also records whether it was made with --everywhere, which the run's check of the
plan against SOURCE needs (plan/planmatch.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..core.errors import Refused, SourceError
from ..core.models import EVERYWHERE, SENT_FROM_PLAN, Action, Outcome, Result, Row
from ..core.words import plain
from .deletions import Deletions

FORMAT = "offboard-plan/1"
# Long enough to plan in the morning and run after a review; short enough
# that the accounts have not drifted far from what was reviewed.
MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Plan:
    path: Path
    sha256: str
    source: str
    source_sha256: str
    created_at: datetime
    created_by: str
    key_user: int | None
    actions: tuple[Action, ...]
    deletions: Deletions  # who the plan said the batch deletes
    everywhere: bool = False  # planned with --everywhere (or the job key): every row is `*`


class PlanWriter:
    """Writes plan.json row by row (into a temporary file, renamed when complete)."""

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        source_sha256: str,
        created_at: datetime,
        created_by: str,
        key_user: int | None,
        deletions: Deletions,
        everywhere: bool = False,
    ) -> None:
        self._path = path
        self._temporary = path.with_name(f".{path.name}.tmp")
        self._temporary.unlink(missing_ok=True)
        self._handle = os.fdopen(
            os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
            "w",
            encoding="utf-8",
        )
        self._first = True
        head = json.dumps(
            {
                "format": FORMAT,
                "source": source if source == "-" else str(Path(source).resolve()),
                "source_sha256": source_sha256,
                "created_at": created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "created_by": created_by,
                "key_user": key_user,
                "deletions": deletions.to_json(),
                "everywhere": everywhere,
            },
            ensure_ascii=False,
        )
        self._handle.write(head[:-1] + ', "rows": [\n')

    def write(self, r: Result) -> None:
        row = {
            "row": r.row.number,
            "account": r.account if r.account is not None else plain(r.row.account),
            "user": plain(r.row.user),
            "user_id": r.user_id,
            "outcome": str(r.outcome),
            "message": r.message,
            "tokens": [token.id for token in r.tokens],
            "deletes_user": r.user_deleted is True,
            "extra": r.row.extra,
            "account_name": r.account_name,
        }
        if r.everywhere:  # only then, as in the journal
            row["everywhere"] = True
        self._handle.write(("" if self._first else ",\n") + json.dumps(row, ensure_ascii=False))
        self._first = False

    def close(self) -> None:
        self._handle.write("\n]}\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temporary, self._path)


def read_plan(path: Path, now: datetime) -> Plan:
    """A plan file, checked for shape and age (the SOURCE is checked by the caller)."""
    try:
        data = path.read_bytes()
        document = json.loads(data)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such plan file") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable plan file ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SourceError(f'{path}: not an offboard plan (expected "format": "{FORMAT}")')
    try:
        created = datetime.fromisoformat(str(document["created_at"]).replace("Z", "+00:00"))
        source = str(document["source"])
        rows = document["rows"]
        actions = tuple(_action(entry) for entry in rows)
        deletions = Deletions.from_json(document.get("deletions"))
        if deletions is None:
            raise ValueError("no deletions record")
        key_user = document.get("key_user")
        everywhere = document.get("everywhere", False)
        if not isinstance(everywhere, bool):
            raise TypeError("everywhere is not true or false")
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"{path}: damaged plan file ({type(exc).__name__}: {exc})") from None
    if source == "-":
        raise Refused(
            f"{path}: the plan was made from stdin, so its SOURCE cannot be checked; "
            "plan from a file"
        )
    age = now - created
    if age > MAX_AGE or age < -timedelta(minutes=5):
        hours = age.total_seconds() / 3600
        raise Refused(
            f"{path}: the plan is {hours:.1f} hours old (limit "
            f"{MAX_AGE.total_seconds() / 3600:g}): run `offboard plan` again"
        )
    return Plan(
        path,
        hashlib.sha256(data).hexdigest(),
        source,
        str(document.get("source_sha256", "")),
        created,
        str(document.get("created_by", "")),
        key_user if isinstance(key_user, int) else None,
        actions,
        deletions,
        everywhere,
    )


def check_source_unchanged(plan: Plan, sha256: str) -> None:
    if sha256 != plan.source_sha256:
        raise Refused(
            f"{plan.path}: {plan.source} has changed since the plan was made; "
            "run `offboard plan` again and review the new plan"
        )


def check_same_key_user(plan: Plan, key_user: int) -> None:
    if plan.key_user is None:
        raise Refused(
            f"{plan.path}: the plan does not say which key's user made it: plan again with this key"
        )
    if key_user != plan.key_user:
        raise Refused(
            f"{plan.path}: the plan was made with the API key of user {plan.key_user}, "
            f"this key belongs to user {key_user}: plan again with this key"
        )


def _action(entry: Any) -> Action:
    if not isinstance(entry, dict):
        raise TypeError("a row is not an object")
    extra = entry.get("extra") or {}
    if not isinstance(extra, dict):
        raise TypeError("extra is not an object")
    everywhere = entry.get("everywhere") is True
    account, user_id = entry.get("account"), entry.get("user_id")
    row = Row(
        int(entry["row"]),
        # A pair of a `*` row: the row as the person wrote it named every account.
        EVERYWHERE if everywhere and isinstance(account, int) else account,
        entry.get("user"),
        {str(k): str(v) for k, v in extra.items()},
    )
    outcome = Outcome(entry["outcome"])
    name = str(entry.get("account_name") or "")
    if outcome in SENT_FROM_PLAN:
        if not isinstance(account, int) or not isinstance(user_id, int):
            raise TypeError(f"row {row.number} has no account/user_id to send")
        return Action(row, account, user_id, everywhere=everywhere, account_name=name)
    return Action(
        row,
        account if isinstance(account, int) else None,
        user_id if isinstance(user_id, int) else None,
        outcome,
        f"at plan time: {entry.get('message', '')}",
        everywhere,
        name,
    )
