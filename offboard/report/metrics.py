"""Prometheus textfile-collector metrics for unattended runs (node_exporter reads the file).

Every invocation rewrites the whole file, folder runs and runs with nothing to do included.
All series are gauges. Per job (label `job`, the job's name; one job for a single-file run):

    offboard_rows{job,outcome}          rows by outcome (the contract's outcome strings)
    offboard_rows_open{job}             rows still holding access; absent when the job was
                                        refused before its rows were read
    offboard_job_exit_code{job}         offboard_job_duration_seconds{job}
    offboard_users_deleted{job}         offboard_retries{job}
    offboard_requests{job,status}       HTTP requests by status ("200", "429", "error": no answer)
    offboard_logins_after_leaving{job}  rows whose user signed in after the row's leave_date (a
                                        possible security incident; a run's exit code stays 0)

Totals over the invocation:

    offboard_batch_rows{outcome}        offboard_rows summed over the jobs
    offboard_batch_rows_open            the known offboard_rows_open summed
    offboard_batch_logins_after_leaving offboard_logins_after_leaving summed
    offboard_exit_code                  the invocation's exit code
    offboard_jobs                       number of jobs run
    offboard_files_not_run{reason}      folder files not run ("not_a_job_file", "unreadable",
                                        "sandbox_only"); only reasons that occurred get a sample,
                                        so no sample means none: alert on `> 0`
    offboard_last_run_timestamp_seconds     this invocation (Unix time), always
    offboard_last_success_timestamp_seconds the last invocation that left nothing open: now, or
                                        carried over from the previous file; absent until one

Alert rules (node_exporter's own `job` label wins, so ours arrives as `exported_job` unless the
scrape sets `honor_labels: true`; these two use only unlabelled series):

    - alert: OffboardLeaverKeepsAccess      # a leaver has kept access for more than a day
      expr: time() - offboard_last_success_timestamp_seconds > 86400
    - alert: OffboardNotRunning             # no run for two intervals (here interval = 1h)
      expr: time() - offboard_last_run_timestamp_seconds > 2 * 3600
    - alert: OffboardLeaverSignedInAfterLeaving   # a possible security incident
      expr: offboard_batch_logins_after_leaving > 0

The first stays silent until a first success is recorded; for that case add
`offboard_batch_rows_open > 0 unless on() offboard_last_success_timestamp_seconds` (for: 1d).

The file appears complete and already mode 0644 (node_exporter runs as another user; it holds no
personal data): write_to_textfile (temp, then rename) writes a hidden staging file, which is
chmod-ed, then renamed onto PATH. Families are built with GaugeMetricFamily, not Gauge, so that
PROMETHEUS_MULTIPROC_DIR in the environment cannot change how values are stored.
prometheus_client (about 40 ms to import) is imported only when a metrics file is written.
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import SettingsError
from ..core.fs import reason

LAST_SUCCESS = "offboard_last_success_timestamp_seconds"


@dataclass(frozen=True, slots=True)
class JobMetrics:
    job: str  # label `job`: the job's name, unique within one invocation
    counts: Mapping[str, int]  # rows by outcome; {} when refused before the rows were known
    open_rows: int | None  # rows still holding access; None when unknown (refused early)
    exit_code: int
    duration: float  # seconds
    users_deleted: int = 0
    requests: Mapping[str, int] = field(default_factory=dict)  # by status: "200", "429", "error"
    retries: int = 0
    logins_after_leaving: int = 0


def write_metrics(
    path: Path,
    jobs: Sequence[JobMetrics],
    *,
    exit_code: int,
    nothing_open: bool,
    now: float,
    files_not_run: Mapping[str, int] | None = None,
) -> None:
    """Rewrite PATH with this invocation's series (see the module docstring)."""
    from prometheus_client.core import GaugeMetricFamily

    names = [j.job for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"job names must be unique in one metrics file: {names}")
    success = now if nothing_open else _previous_success(path)

    collector = _Collector()

    def gauge(
        name: str,
        help_text: str,
        labels: Sequence[str],
        samples: Iterable[tuple[Sequence[str], float]],
    ) -> None:
        family = GaugeMetricFamily(f"offboard_{name}", help_text, labels=list(labels))
        for values, value in samples:
            family.add_metric(list(values), value)
        collector.families.append(family)

    job = ("job",)
    gauge(
        "rows",
        "Rows of the job by outcome.",
        ("job", "outcome"),
        [((j.job, o), n) for j in jobs for o, n in sorted(j.counts.items())],
    )
    gauge(
        "rows_open",
        "Rows of the job still holding access (they need a person).",
        job,
        [((j.job,), j.open_rows) for j in jobs if j.open_rows is not None],
    )
    gauge("job_exit_code", "Exit code of the job.", job, [((j.job,), j.exit_code) for j in jobs])
    gauge(
        "job_duration_seconds",
        "Wall time of the job.",
        job,
        [((j.job,), round(j.duration, 3)) for j in jobs],
    )
    gauge(
        "users_deleted",
        "Users Gcore deleted: the job revoked their last account.",
        job,
        [((j.job,), j.users_deleted) for j in jobs],
    )
    gauge(
        "requests",
        "HTTP requests of the job by status (error: no answer).",
        ("job", "status"),
        [((j.job, s), n) for j in jobs for s, n in sorted(j.requests.items())],
    )
    gauge("retries", "Retried requests of the job.", job, [((j.job,), j.retries) for j in jobs])
    gauge(
        "logins_after_leaving",
        "Rows whose user signed in after the row's leave_date: a possible security incident.",
        job,
        [((j.job,), j.logins_after_leaving) for j in jobs],
    )
    totals = sum((Counter(j.counts) for j in jobs), Counter[str]())
    gauge(
        "batch_rows",
        "Rows of all jobs of the invocation by outcome.",
        ("outcome",),
        [((o,), n) for o, n in sorted(totals.items())],
    )
    gauge(
        "batch_rows_open",
        "Rows of all jobs still holding access (where known).",
        (),
        [((), sum(j.open_rows or 0 for j in jobs))],
    )
    gauge(
        "batch_logins_after_leaving",
        "Rows of all jobs whose user signed in after the row's leave_date.",
        (),
        [((), sum(j.logins_after_leaving for j in jobs))],
    )
    gauge("exit_code", "Exit code of the invocation.", (), [((), exit_code)])
    gauge("jobs", "Jobs the invocation ran.", (), [((), len(jobs))])
    gauge(
        "files_not_run",
        "Folder files not run, by reason (no sample: none).",
        ("reason",),
        [((r,), n) for r, n in sorted((files_not_run or {}).items())],
    )
    gauge(
        "last_run_timestamp_seconds",
        "When the invocation ran (Unix time).",
        (),
        [((), round(now, 3))],
    )
    gauge(
        "last_success_timestamp_seconds",
        "When an invocation last left no row holding access (Unix time).",
        (),
        [((), round(success, 3))] if success is not None else [],
    )

    write_families(path, collector.families)


def write_families(path: Path, families: Sequence[Any]) -> None:
    """PATH replaced at once by these metric families, mode 0644 (see the module docstring)."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry()
    registry.register(_Collector(list(families)))
    staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write_to_textfile(str(staging), registry)
        os.chmod(staging, 0o644)  # node_exporter runs as another user; no personal data here
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def check_writable(path: Path) -> None:
    """Refuse (exit 2, before anything is sent) a metrics file the end of the run could not
    write: the write makes a staging file beside PATH and renames it onto PATH, so that is
    what is tried here, with a file removed at once."""
    where = f"--metrics-file {path}"
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:
        if path.is_dir():
            raise SettingsError(f"{where}: Is a directory")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise SettingsError(f"{where}: cannot write: {reason(exc)}") from None


@dataclass(eq=False)  # a registry keys its collectors by identity
class _Collector:
    """The metric families of one invocation, handed to the registry as they are."""

    families: list[Any] = field(default_factory=list)

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def _previous_success(path: Path) -> float | None:
    """The unlabelled last-success sample of the file at PATH; None if missing or garbled."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
        found = [
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == LAST_SUCCESS and not s.labels and math.isfinite(s.value)
        ]
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return float(found[0]) if found else None
