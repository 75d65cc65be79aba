"""What `offboard restore` checks and keeps before it sends: REPORT_DIR is a finished run's
report, where the restore's own report goes, and which rows earlier restores gave back (a
mark in REPORT_DIR/.offboard, so a later restore leaves them alone)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import Refused
from ..core.models import Mode
from ..core.restore_record import RESTORE_NOT_SENT_AGAIN, RestoreOutcome
from ..journal.files import write_private
from ..journal.layout import internal, stamp
from ..report.summary import iso
from .report import read_meta, settled

RESTORED_MARK = "restored.json"  # in REPORT_DIR/.offboard: which restore gave it back


def marked(mark: Path) -> dict[tuple[int, int], str]:
    """Rows (row, account) restores gave back already, with the restore's report."""
    try:
        data = json.loads(mark.read_text("utf-8"))
        return {
            (int(row), int(account)): str(where) for row, account, where in data.get("rows", [])
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def mark_restored(mark: Path, rows: Mapping[tuple[int, int], str]) -> None:
    write_private(
        mark,
        json.dumps(
            {
                "rows": [[r, a, w] for (r, a), w in sorted(rows.items())],
                "at": iso(datetime.now(UTC)),
            }
        )
        + "\n",
    )


def finished_run(source: Path) -> dict[str, Any]:
    """REPORT_DIR's run.json and summary.json; refuse anything but a finished `run`."""
    try:
        meta = json.loads((internal(source) / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise Refused(
            f"{source}: not an offboard report directory (no readable .offboard/run.json)"
        ) from None
    if meta.get("command") != Mode.RUN:
        raise Refused(
            f"{source}: the report of a `{meta.get('command')}`, not of a run: nothing was revoked"
        )
    try:
        summary = json.loads((source / "summary.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise Refused(
            f"{source}: that run did not finish (no summary.json): finish it with "
            "`offboard run ... --resume` first"
        ) from None
    options = summary.get("options") if isinstance(summary.get("options"), dict) else {}
    if options.get("sandbox"):
        raise Refused(
            f"{source}: a --sandbox run: its simulator is gone, with what it "
            "revoked; restore a run made against `offboard sandbox` or the API"
        )
    return {"meta": meta, "key_user": summary.get("key_user"), "base_url": options.get("base_url")}


def restore_dir(
    source: Path, began: datetime, *, resume: str | None, report_dir: str | None, plan: bool
) -> tuple[Path, dict[tuple[int, int], dict[str, Any]]]:
    """Where the restore's report goes, and what an earlier attempt already settled."""
    if resume is not None:
        directory = Path(resume)
        if Path(read_meta(directory).get("report", "")) != source:
            raise Refused(f"--resume {directory}: the restore of another report")
        return directory, {
            k: r
            for k, r in settled(directory).items()
            if RestoreOutcome(r["outcome"]) in RESTORE_NOT_SENT_AGAIN
        }
    if report_dir is not None:
        return Path(report_dir), {}
    suffix = "-restore-plan" if plan else "-restore"
    return source.with_name(f"{source.name}{suffix}-{stamp(began)}"), {}
