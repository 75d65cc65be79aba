"""One job as job/run.py resolved it, before anything is sent: what the session and the outputs
both read, passed as one value instead of six positional parameters.

    job/run.py: Job -> Batch (+ Plan) -> Settings, Guarding -> JobContext
        -> job/session.py  Session(context, previous=, report=, seams=) -> Ended
        -> job/outputs.py  finish(context, ended, started=, identity=, duration=)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.job import Job
from ..core.settings import Guarding, Settings
from ..plan.planfile import Plan
from ..report.logs import Log
from ..source.batch import everywhere_because
from ..source.read import Batch


@dataclass(frozen=True, slots=True)
class JobContext:
    """The job, its rows (or plan), and the settings it runs with."""

    job: Job
    batch: Batch
    planned: Plan | None  # the plan a `run PLAN.json` runs (None: rows from SOURCE)
    settings: Settings
    guarding: Guarding
    log: Log

    @property
    def all_everywhere(self) -> bool:
        """Every row names its person everywhere, whatever its account (--everywhere, or
        the job file's `everywhere: true`)."""
        return self.job.everywhere or self.batch.settings.get("everywhere") is True

    @property
    def everywhere(self) -> str:
        """The first line of the plan and the prompt when the rows mean every account
        ("" when they name their accounts)."""
        if self.job.everywhere:
            return everywhere_because("--everywhere")
        return self.batch.everywhere
