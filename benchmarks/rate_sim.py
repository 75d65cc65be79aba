"""Issue 12's matrix in the discrete-event simulation (benchmarks/rate_model.py), for a controller.

    .venv/bin/python benchmarks/rate_sim.py                 # the new controller, pruned matrix
    .venv/bin/python benchmarks/rate_sim.py --legacy        # today's (pre-issue-12) controller
    .venv/bin/python benchmarks/rate_sim.py --full --failing

Virtual time: the whole matrix takes seconds and gives the same figures every run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rate_cubic import CubicController as LegacyController
from rate_model import Figures, matrix, simulate

from offboard.rate.control import AdaptiveController


def row(f: Figures) -> str:
    c = f.cell
    starts = " ".join(f"{g:.2f}" for g in f.goodput_starts)
    t08 = "-" if f.time_to_08 is None else f"{f.time_to_08:.1f}"
    verdict = "ok" if not f.failures() else "FAIL: " + "; ".join(f.failures())
    return (
        f"{c.shape:<16} {c.hint:<7} {c.limit:>5g} {c.rate:>6g} {c.concurrency:>3} "
        f"{c.rtt * 1000:>4g} {f.goodput_after:>6.3f} {starts:<15} {f.share_429:>6.2%} "
        f"{f.peak_window:>6} {t08:>5}  {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--legacy", action="store_true", help="today's controller")
    parser.add_argument("--full", action="store_true", help="the unpruned matrix")
    parser.add_argument("--failing", action="store_true", help="print failing cells only")
    parser.add_argument("--summary", action="store_true", help="per-shape summary only")
    parser.add_argument(
        "--write-shortfalls",
        metavar="JSON",
        help="write each failing cell's shortfalls (tests/rate_sim_shortfalls.json)",
    )
    args = parser.parse_args()
    make = LegacyController if args.legacy else AdaptiveController
    started = time.perf_counter()
    figures = [simulate(cell, make) for cell in matrix(full=args.full)]
    took = time.perf_counter() - started
    name = "legacy (pre-issue-12)" if args.legacy else "new (offboard/rate/control.py)"
    print(f"controller: {name}; {len(figures)} cells in {took:.1f} s of CPU")
    if not args.summary:
        print(
            f"{'shape':<16} {'hint':<7} {'L':>5} {'--rate':>6} {'c':>3} {'rtt':>4} "
            f"{'>10s/A':>6} {'<10s/A':<15} {'429s':>6} {'peak1s':>6} {'t0.8A':>5}  verdict"
        )
        for f in figures:
            if not args.failing or f.failures():
                print(row(f))
    by_shape: dict[str, list[Figures]] = defaultdict(list)
    for f in figures:
        by_shape[f.cell.shape].append(f)
    print()
    print(
        f"{'shape':<16} {'cells':>5} {'failing':>7} {'min >10s/A':>10} {'min <10s/A':>10} "
        f"{'max 429s':>8}"
    )
    for shape, group in by_shape.items():
        print(
            f"{shape:<16} {len(group):>5} {sum(1 for f in group if f.failures()):>7} "
            f"{min(f.goodput_after for f in group):>10.3f} "
            f"{min(min(f.goodput_starts) for f in group):>10.3f} "
            f"{max(f.share_429 for f in group):>8.2%}"
        )
    failing = sum(1 for f in figures if f.failures())
    if args.write_shortfalls:
        known = {f.cell.label: f.failures() for f in figures if f.failures()}
        Path(args.write_shortfalls).write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    print(f"cells meeting every figure: {len(figures) - failing}/{len(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
