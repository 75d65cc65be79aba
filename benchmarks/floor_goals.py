"""Issue 22's goals, printed by the compare section for each server: offboard against the floor
(benchmarks/floor.py) and the official SDK script, each a ratio measured side by side in one
run, with the machine, the date and the load it ran on.

- whole run (exec to exit): offboard's rows/s >= 0.8 x the floor's;
- DELETE phase: >= 0.9 x the floor's;
- before the first DELETE (first request the server saw to the first DELETE): no more than the
  look-ups' own round trips plus 0.1 s. The look-ups take LOOKUP_ROUND_TRIPS round trips: the
  key's user; the user list's first page with the login log's first page beside it; the
  list's other pages at once. A round trip is at least the server's latency, and more where
  the server takes time to answer (the key's user holds every user of the account; 31 pages
  of 100 users): benchmarks/lookups_floor.py makes the same requests and nothing else, and its
  own "first request to first DELETE" in the same server's log is the round trips measured.
  The bar is that + 0.1 s; the nominal bar (round trips x latency + 0.1 s) is shown beside;
- CPU per row, whole process and marginal: <= 1.5 x the floor's;
- the SDK script: offboard ahead of it on whole-run throughput and on CPU per row.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from harness import fmt, say, table, verdict

WHOLE_X_FLOOR = 0.8
DELETE_PHASE_X_FLOOR = 0.9
CPU_X_FLOOR = 1.5
BEFORE_SLACK = 0.1  # seconds allowed beyond the look-ups' own round trips
LOOKUP_ROUND_TRIPS = 3


def when_and_where() -> str:
    """The line that ties the figures to a machine, a date and a load."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                "",
            )
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} x {model or 'CPU'}, "
        f"load average {load}"
    )


def goals(
    figures: dict[str, dict[str, Any]], latency: float, label: str, lookups: float | None = None
) -> dict[str, dict[str, Any]]:
    """Prints issue 22's goals for one server's figures (by client); returns them for --json."""
    ob, floor, sdk = figures.get("offboard"), figures.get("floor"), figures.get("sdk")
    say(f"Issue 22's goals against {label} ({when_and_where()}):")
    if not ob or not floor:
        say("  n/a: offboard or the floor failed")
        return {}
    nominal = LOOKUP_ROUND_TRIPS * latency + BEFORE_SLACK
    allowed = nominal if lookups is None else lookups + BEFORE_SLACK
    measured = (
        "the look-ups alone not measured"
        if lookups is None
        else f"the look-ups alone {lookups:.2f} s + {BEFORE_SLACK:g} s"
    )
    lines: list[tuple[str, float | None, str, bool | None]] = [
        _at_least(
            "whole run rows/s / floor's", ob["rows_per_s"], floor["rows_per_s"], WHOLE_X_FLOOR
        ),
        _at_least(
            "DELETE phase rows/s / floor's",
            ob["delete_phase_rows_per_s"],
            floor["delete_phase_rows_per_s"],
            DELETE_PHASE_X_FLOOR,
        ),
        (
            "s before the 1st DELETE",
            ob["before_deletes"],
            f"<= {allowed:.2f} s ({measured}; nominal {LOOKUP_ROUND_TRIPS} round trips x "
            f"{latency * 1000:g} ms + {BEFORE_SLACK:g} s = {nominal:.2f} s)",
            ob["before_deletes"] <= allowed,
        ),
        _at_most("CPU per row / floor's", ob["cpu_per_1000"], floor["cpu_per_1000"], CPU_X_FLOOR),
        _at_most(
            "marginal CPU per row / floor's",
            ob["marginal_cpu_per_1000"],
            floor["marginal_cpu_per_1000"],
            CPU_X_FLOOR,
        ),
    ]
    if sdk:
        lines += [
            _at_least("whole run rows/s / SDK's", ob["rows_per_s"], sdk["rows_per_s"], 1.0),
            _at_most("CPU per row / SDK's", ob["cpu_per_1000"], sdk["cpu_per_1000"], 1.0),
        ]
    else:
        lines.append(("offboard vs the SDK script", None, "the SDK did not run", None))
    table(
        ["goal", "figure", "bar", "met?"],
        [[name, fmt(value, 2), bar, verdict(met)] for name, value, bar, met in lines],
    )
    return {name: {"value": value, "bar": bar, "met": met} for name, value, bar, met in lines}


def _at_least(
    name: str, ours: float | None, theirs: float | None, bar: float
) -> tuple[str, float | None, str, bool | None]:
    value = ours / theirs if ours and theirs else None
    return name, value, f">= {bar:g}", None if value is None else value >= bar


def _at_most(
    name: str, ours: float | None, theirs: float | None, bar: float
) -> tuple[str, float | None, str, bool | None]:
    value = ours / theirs if ours and theirs else None
    return name, value, f"<= {bar:g}", None if value is None else value <= bar
