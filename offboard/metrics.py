"""Prometheus textfile-collector metrics for unattended runs (node_exporter reads the file).

Written atomically (temporary file, then rename) so the collector never reads
half a file. `last_success` survives failed runs: it is carried over from the
previous file, so an alert can fire when no run has succeeded for too long.
A run counts as a success when it finished (exit code 0 or 1): rows needing a
person are a job for people, not a broken run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

PREFIX = "offboard"


def write_metrics(path: Path, *, job: str, counts: Mapping[str, int],
                  requests: Mapping[str, int], retries: int, duration: float,
                  finished: float, exit_code: int) -> None:
    success = finished if exit_code in (0, 1) else _previous_success(path, job)
    label = f'job="{_escape(job)}"'
    lines = [
        *_metric("rows", "Rows of the last run by outcome.",
                 [(f'{label},outcome="{o}"', n) for o, n in sorted(counts.items())]),
        *_metric("requests", "HTTP requests of the last run by status (error: no answer).",
                 [(f'{label},status="{s}"', n) for s, n in sorted(requests.items())]),
        *_metric("retries", "Retries in the last run.", [(label, retries)]),
        *_metric("duration_seconds", "Wall time of the last run.", [(label, round(duration, 3))]),
        *_metric("exit_code", "Exit code of the last run.", [(label, exit_code)]),
        *_metric("last_finished_timestamp_seconds", "When the last run ended (Unix time).",
                 [(label, round(finished, 3))]),
        *_metric("last_success_timestamp_seconds",
                 "When a run last finished with exit code 0 or 1 (Unix time).",
                 [(label, round(success, 3))] if success is not None else []),
    ]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(temporary, 0o644)  # node_exporter runs as another user; no personal data here
    os.replace(temporary, path)


def _metric(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    full = f"{PREFIX}_{name}"
    out = [f"# HELP {full} {help_text}", f"# TYPE {full} gauge"]
    out += [f"{full}{{{labels}}} {value!r}" for labels, value in samples]
    return out


def _previous_success(path: Path, job: str) -> float | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pattern = (rf'^{PREFIX}_last_success_timestamp_seconds\{{job="{re.escape(_escape(job))}"\}} '
               r"([0-9.e+]+)$")
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
