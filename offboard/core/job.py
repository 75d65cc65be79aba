"""What a person asked for (Job), what tests replace (Seams), and how one job ended (JobReport).

These are the values passed between the command line, the folder runner
(inbox/run.py), the single-job runner (job/run.py) and the metrics: each module
imports them from here, so imports run one way.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from .models import Mode

if TYPE_CHECKING:  # the HTTP client and the event loop are imported only by a run that sends
    import httpx

    from .clock import Clock


@dataclass(frozen=True, slots=True)
class Job:
    """What the person asked for on the command line (None = not given)."""

    source: str
    mode: Mode = Mode.RUN
    numbers: Mapping[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_file: str | None = None
    report_dir: str | None = None
    sandbox: bool = False
    yes: bool = False
    protect: tuple[str, ...] = ()
    max_revocations: int | None = None
    active_days: int | None = None  # None: the job file's, else defaults.DEFAULT_ACTIVE_DAYS
    delete_tokens: bool = False
    no_verify: bool = False
    everywhere: bool = False  # --everywhere: every row names its person everywhere (`*`)
    resume: str | None = None
    new_run: bool = False  # start afresh though an unfinished run of SOURCE exists
    log_format: str = "text"
    verbosity: int = 0
    metrics_file: str | None = None
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class Seams:
    """What tests replace: the process's streams, environment, transport and clock."""

    stdin: BinaryIO | None = None
    interactive: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock | None = None
    rng: random.Random | None = None
    confirm: Callable[[str], bool] = lambda text: click.confirm(text, default=False, err=True)

    @classmethod
    def of_this_process(cls) -> Seams:
        return cls(stdin=sys.stdin.buffer, interactive=sys.stdin.isatty())


@dataclass(frozen=True, slots=True)
class JobReport:
    """How one job ended, computed from its journal (or from why it was refused)."""

    name: str
    source: str
    exit_code: int
    problem: str = ""  # the one line that says why exit_code is not 0
    directory: Path | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    open_rows: int | None = None  # rows that still hold access (None: never read)
    users_deleted: int = 0
    duration: float = 0.0
    requests: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0
    logins_after_leaving: int = 0  # rows whose user signed in after the row's leave_date
