"""What a job's session hands to job/outputs.py, and the session of a batch without rows.

    rows:     job/session.py (client, event loop: prepare, decide, execute) -> Ended
    no rows:  no_rows() (nothing to read, decide or send)               -> Ended
    Ended -> job/outputs.py (report files, summary, exit code)

Apart from job/session.py so that a run with nothing to do imports neither the
HTTP client nor the event loop: its whole cost is reading the file and
writing the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..core.directory import Directory, Person
from ..core.job import Job
from ..core.models import Mode, ReadBack
from ..journal.writer import Report
from ..plan.deletions import Deletions
from ..plan.planfile import PlanWriter
from ..report.summary import who
from ..source.read import Batch

if TYPE_CHECKING:
    from ..execute.activity import Activity
    from ..journal.reader import Previous


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the read-only first pass learned: enough to regenerate the same rows again."""

    key_user: int | None
    directory: Directory | None
    directory_error: str
    aborted: str  # set when the run must send nothing at all
    sending: int = 0
    accounts: int = 0
    users: int = 0
    deletions: Deletions = field(default_factory=Deletions)
    people: Mapping[int, Person] = field(default_factory=dict)  # names of the batch's users
    activity: Activity | None = None  # the batch users' last logins (None: not read)
    everywhere: bool = False  # a row names a known person everywhere (`*`): read the listing


@dataclass
class Ended:
    """What the session hands to job/outputs.py."""

    report: Report
    prepared: Prepared
    aborted: str
    statuses: dict[str, int]
    retries: int
    carried: int | None  # rows a resume took over from the earlier run
    read: ReadBack | None  # the read-back's verdicts (None: not read back)


def plan_writer(
    job: Job, batch: Batch, report: Report, prepared: Prepared, everywhere: bool = False
) -> PlanWriter | None:
    """plan.json, for `plan` only: its head now, its rows as they settle."""
    if job.mode is not Mode.PLAN:
        return None
    return PlanWriter(
        report.directory / "plan.json",
        source=batch.source,
        source_sha256=batch.sha256,
        created_at=datetime.now(UTC),
        created_by=who(),
        key_user=prepared.key_user,
        deletions=prepared.deletions,
        everywhere=everywhere,
    )


def no_rows(job: Job, batch: Batch, report: Report, previous: Previous | None) -> Ended:
    """How a session over a batch without rows ends: as job/session.py's would, which asks the
    API nothing when no row can be sent (an empty read-back included)."""
    prepared = Prepared(None, None, "", "")
    report.open(prepared.people)
    plan_file = plan_writer(job, batch, report, prepared)
    if plan_file is not None:
        plan_file.close()
    read = ReadBack({}, "", 0) if job.mode is Mode.RUN and not job.no_verify else None
    return Ended(report, prepared, "", {}, 0, 0 if previous is not None else None, read)
