"""`offboard restore --metrics-file PATH`: a restore's Prometheus textfile metrics.

All gauges, labelled `job` (the name of the run's report directory the restore gives back):

    offboard_restore_rows{job,outcome}          rows by the restore's outcome
    offboard_restore_exit_code{job}             offboard_restore_duration_seconds{job}
    offboard_restore_new_users{job}             users invited back under a new ID (the run
                                                deleted them; they must accept the e-mail)
    offboard_restore_tokens_gone{job}           API tokens the run deleted: they cannot come back
    offboard_restore_requests{job,status}       HTTP requests by status ("error": no answer)
    offboard_restore_retries{job}
    offboard_restore_last_run_timestamp_seconds{job}   when this restore ran (Unix time)

A restore never writes the run's series, `offboard_last_run_timestamp_seconds` and
`offboard_last_success_timestamp_seconds` included: a restore is not the cron run, so it must
not reset the alert on a leaver keeping access, nor hide that the cron run stopped. It needs a
file of its own (node_exporter rejects a scrape when two files hold one unlabelled series), and
refuses, before sending anything, a file that holds a run's metrics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import SettingsError

RUN_SERIES = "offboard_last_run_timestamp_seconds"  # present in every run's file


@dataclass(frozen=True, slots=True)
class RestoreMetrics:
    job: str
    counts: Mapping[str, int]  # rows by outcome; {} when refused before the rows were known
    exit_code: int
    duration: float  # seconds
    new_users: int = 0
    tokens_gone: int = 0
    requests: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0


def check_metrics_file(path: str | None) -> None:
    """Refuse (exit 2, before any request) a file that cannot be written, or a run's file."""
    if path is None:
        return
    where = Path(path)
    folder = where.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise SettingsError(f"--metrics-file {path}: cannot write into {folder}")
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SettingsError(f"--metrics-file {path}: cannot read it: {reason}") from None
    if any(line.startswith(RUN_SERIES) for line in text.splitlines()):
        raise SettingsError(
            f"--metrics-file {path}: holds a run's metrics ({RUN_SERIES}): "
            "give restore a file of its own"
        )


def write_restore_metrics(path: Path, restore: RestoreMetrics, *, now: float) -> None:
    """Rewrite PATH with this restore's series (see the module docstring)."""
    from prometheus_client.core import GaugeMetricFamily

    from ..report.metrics import write_families

    job = (restore.job,)
    families = []

    def gauge(
        name: str, help_text: str, samples: Mapping[str, float] | float, label: str = ""
    ) -> None:
        labels = ["job", label] if label else ["job"]
        family = GaugeMetricFamily(f"offboard_restore_{name}", help_text, labels=labels)
        if isinstance(samples, Mapping):
            for value, count in sorted(samples.items()):
                family.add_metric([*job, value], count)
        else:
            family.add_metric(list(job), samples)
        families.append(family)

    gauge("rows", "Rows of the restore by outcome.", restore.counts, "outcome")
    gauge("exit_code", "Exit code of the restore.", restore.exit_code)
    gauge("duration_seconds", "Wall time of the restore.", round(restore.duration, 3))
    gauge(
        "new_users",
        "Users invited back under a new ID (the run had deleted them).",
        restore.new_users,
    )
    gauge("tokens_gone", "API tokens the run deleted: they cannot come back.", restore.tokens_gone)
    gauge(
        "requests",
        "HTTP requests of the restore by status (error: no answer).",
        restore.requests,
        "status",
    )
    gauge("retries", "Retried requests of the restore.", restore.retries)
    gauge("last_run_timestamp_seconds", "When the restore ran (Unix time).", round(now, 3))
    write_families(path, families)
