"""compare's paired figures: offboard and the floor, one after the other, PAIRS times, each
against a fresh server, and issue 22's whole-run and DELETE-phase ratios taken pair by pair.

One run of each client per sitting let one slow run decide a goal: on a quiet machine the
floor took 2.8-4.6 s for the same 3,000 rows, and the whole run's ratio moved by 0.3 between
sittings of the same code (BENCHMARKS.md). The median of alternating pairs is what one slow
run cannot move; the least and the most are printed beside it, so a wide spread still shows.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness as h
from harness import fmt, say, table, verdict

PAIRS = 5
WHOLE_X_FLOOR = 0.8  # issue 22: the whole run's rows/s >= 0.8 x the floor's
PHASE_X_FLOOR = 0.9  # and the DELETE phase's >= 0.9 x

Run = Callable[[str, Path, int, str], tuple[h.Measured, h.LogFigures]]


def paired(run: Run, rows_csv: Path, n: int, server: str, pairs: int = PAIRS) -> dict[str, Any]:
    """offboard and the floor alternately (offboard first in odd pairs, the floor first in
    even ones, so neither always meets the machine warmed by the other): the ratios' median,
    least and most, or {"error": ...} when a run failed."""
    whole: list[float] = []
    phase: list[float] = []
    for i in range(pairs):
        order = ("offboard", "floor") if i % 2 == 0 else ("floor", "offboard")
        got: dict[str, tuple[float, float]] = {}
        for client in order:
            m, f = run(client, rows_csv, n, server)
            if m.returncode not in (0, 1) or not f.deletes_ok or not f.delete_rate:
                return {"error": f"{client}: {h.failure(m)}"}
            got[client] = (f.deletes_ok / m.wall, f.delete_rate)
        whole.append(got["offboard"][0] / got["floor"][0])
        phase.append(got["offboard"][1] / got["floor"][1])
    return {"pairs": pairs, "whole": _spread(whole), "phase": _spread(phase)}


def _spread(ratios: list[float]) -> dict[str, float]:
    return {"median": statistics.median(ratios), "least": min(ratios), "most": max(ratios)}


def show(found: dict[str, Any], where: str) -> None:
    """The paired figures as a goals table: met or not on the median."""
    if "error" in found:
        say(f"Paired runs against {where}: stopped, {found['error']}")
        return
    say(
        f"Issue 22's whole-run goals against {where}, {found['pairs']} alternating pairs "
        "(offboard, then the floor, each against a fresh server; the ratio pair by pair):"
    )
    lines = []
    for label, key, bar in (
        ("whole run rows/s / floor's", "whole", WHOLE_X_FLOOR),
        ("DELETE phase rows/s / floor's", "phase", PHASE_X_FLOOR),
    ):
        r = found[key]
        lines.append(
            [
                label,
                fmt(r["median"], 2),
                f"{fmt(r['least'], 2)}-{fmt(r['most'], 2)}",
                f">= {bar}",
                verdict(r["median"] >= bar),
            ]
        )
    table(["goal", "median", "least-most", "bar", "met?"], lines)
