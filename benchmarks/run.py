"""offboard's benchmarks: one command, every figure of BENCHMARKS.md.

    .venv/bin/python benchmarks/run.py            # full: about 16 minutes on 2 cores (shapes: 9)
    .venv/bin/python benchmarks/run.py --quick    # smoke: tiny sizes, a few seconds
    .venv/bin/python benchmarks/run.py --profile  # only: where offboard's CPU goes (compare batch)

Every run starts a fresh sandbox (`python -m offboard sandbox`) in its own process, and every
client in its own process too, so wall time, CPU (user+sys) and peak RSS (ru_maxrss) come from
os.wait4 for that client alone. Rates are also read from the sandbox's own request log
(GET /_sandbox/log), which stamps each request's arrival.

Sections (--only takes a comma-separated list of them):
  ceiling   the sandbox's own ceiling: a raw-socket load generator and offboard at latency 0
  compare   offboard vs the official SDK (AsyncGcore + Semaphore) vs the floor (plain DELETEs
            on httpcore) vs a naive sequential httpx loop, on the same rows at the same
            concurrency, 20 ms latency, no rate limit, beside what the sandbox itself serves;
            then offboard, the SDK and the floor again against a second, independent server
            (benchmarks/threaded_server.py: ThreadingHTTPServer) (benchmarks/compare.py)
  rates     offboard's achieved rate / min(--rate, concurrency / latency) for a few settings
  adaptive  offboard --rate 5L against a sandbox limiting to L req/s that offboard is not told
  shapes    issue 12's cells: offboard against each server limiter shape (benchmarks/adaptive.py)
  memory    peak RSS of `offboard run` on a 10,000-row vs a 1,000,000-row CSV
  verification  the read-back after N revokes: the method chosen and its extra requests

--profile runs offboard once over the compare batch under cProfile, timed in CPU, and prints
where the CPU goes by package and by function (benchmarks/profile_summary.py). Alone it runs
nothing else; with --only it runs those sections too, then the profile.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adaptive
import compare
import harness as h
import sdk_venv
import startup
from harness import failure, fmt, say, table, verdict

SECTIONS = (
    "startup",
    "ceiling",
    "compare",
    "rates",
    "adaptive",
    "shapes",
    "memory",
    "verification",
)
LATENCY = 0.02
UNLIMITED = 10_000  # offboard's largest --rate: far above anything reached here


@dataclass(frozen=True)
class Sizes:
    ceiling_rows: int
    ceiling_connections: tuple[int, ...]
    ceiling_offboard_rows: int
    compare_rows: int
    compare_small: int | None  # a second, smaller batch for the marginal CPU per row
    compare_pairs: int  # offboard and the floor again, alternately, for the paired ratios
    rate_settings: tuple[tuple[float, int], ...]  # (--rate, --concurrency)
    rate_seconds: float  # batch size: about this long at the expected rate ...
    rate_rows_min: int  # ... but at least this many rows
    rate_rows_max: int  # ... and at most this many
    adaptive_limit: int
    adaptive_seconds: float
    shapes_scale: float  # benchmarks/adaptive.py's cells at this x their length
    memory_small: int
    memory_large: int
    memory_sent: int
    verify_rows: tuple[int, ...]  # revoked rows per verification run (world: rows + 50 users)


FULL = Sizes(
    ceiling_rows=8000,
    ceiling_connections=(16, 64),
    ceiling_offboard_rows=3000,
    compare_rows=3000,
    compare_small=500,
    compare_pairs=5,
    rate_settings=((100, 32), (400, 32), (UNLIMITED, 4), (UNLIMITED, 16), (UNLIMITED, 32)),
    rate_seconds=4.0,
    rate_rows_min=300,
    rate_rows_max=2500,
    adaptive_limit=20,
    adaptive_seconds=60.0,
    shapes_scale=1.0,
    memory_small=10_000,
    memory_large=1_000_000,
    memory_sent=1000,
    verify_rows=(1, 10, 150, 1000),
)
QUICK = Sizes(
    ceiling_rows=300,
    ceiling_connections=(64,),
    ceiling_offboard_rows=100,
    compare_rows=60,
    compare_small=None,
    compare_pairs=1,
    rate_settings=((100, 8),),
    rate_seconds=0.5,
    rate_rows_min=40,
    rate_rows_max=60,
    adaptive_limit=20,
    adaptive_seconds=1.5,
    shapes_scale=adaptive.QUICK_SCALE,
    memory_small=500,
    memory_large=5000,
    memory_sent=20,
    verify_rows=(1, 150),
)


class Bench:
    def __init__(self, sizes: Sizes, work: Path) -> None:
        self.sizes = sizes
        self.work = work
        self.env = h.child_env(GCORE_API_KEY=h.KEY)
        self.results: dict[str, Any] = {}
        self.ceiling: float | None = None
        # The SDK's row is never skipped quietly: its own venv when this interpreter lacks it.
        sdk, self.sdk_note = sdk_venv.sdk_python(make=sizes is not QUICK)
        self.sdk_python = sdk or ""
        self.sdk_missing = "" if sdk else self.sdk_note
        self._n = 0

    def path(self, name: str) -> Path:
        self._n += 1
        return self.work / f"{self._n:02d}-{name}"

    # -- one client against one fresh sandbox -------------------------------------------------

    def run_client(
        self,
        label: str,
        users: int,
        rows_csv: Path,
        argv: Callable[[str], list[str]],
        *,
        latency: float,
        rate_limit: int | None = None,
        report_dir: Path | None = None,
        timeout: float = 900,
        server: str = "sandbox",
    ) -> tuple[h.Measured, h.LogFigures]:
        """`server`: "sandbox" (offboard's) or "threaded" (benchmarks/threaded_server.py,
        latency only: no rate limit)."""
        process: h.SandboxProcess
        if server == "threaded":
            if rate_limit is not None:
                raise ValueError("the threaded server has no rate limit")
            process = h.ThreadedServerProcess(users, latency=latency)
        else:
            process = h.SandboxProcess(
                h.write_world(
                    self.path("world.json"), users, latency=latency, rate_limit=rate_limit
                )
            )
        with process as sandbox:
            measured = h.measure(label, argv(sandbox.url), self.env, h.ROOT, sandbox, timeout)
            figures = h.log_figures(sandbox.log())
        if report_dir is not None:
            measured.extra["counts"] = h.report_counts(report_dir)
        return measured, figures

    def offboard(
        self,
        label: str,
        users: int,
        rows_csv: Path,
        *,
        rate: float,
        concurrency: int,
        cap: int,
        latency: float,
        rate_limit: int | None = None,
        timeout: float = 900,
        server: str = "sandbox",
    ) -> tuple[h.Measured, h.LogFigures]:
        report = self.path("report")
        measured, figures = self.run_client(
            label,
            users,
            rows_csv,
            lambda url: h.offboard_argv(
                rows_csv, url, rate=rate, concurrency=concurrency, cap=cap, report_dir=report
            ),
            latency=latency,
            rate_limit=rate_limit,
            report_dir=report,
            timeout=timeout,
            server=server,
        )
        shutil.rmtree(report, ignore_errors=True)
        return measured, figures

    # -- sections ------------------------------------------------------------------------------

    def section_ceiling(self) -> None:
        s = self.sizes
        say("== The sandbox's own ceiling (latency 0, no rate limit) ==")
        say(
            "A raw-socket HTTP/1.1 load generator (benchmarks/raw_load.py) spends a fraction "
            "of a millisecond of CPU per request, so it shows what the sandbox itself can "
            f"serve; offboard at --rate {UNLIMITED} --concurrency 64 shows what the pair "
            f"reaches. Both share the machine's {os.cpu_count()} cores with the sandbox. "
            "'sandbox busy' is the sandbox's CPU seconds / the client's wall time."
        )
        rows_csv = h.write_rows(self.path("rows.csv"), h.user_ids(s.ceiling_rows))
        raw = str(h.BENCH / "raw_load.py")
        lines, best = [], 0.0
        for connections in s.ceiling_connections:

            def argv(url: str, c: int = connections) -> list[str]:
                return [h.PYTHON, raw, str(rows_csv), "--base-url", url, "--connections", str(c)]

            m, f = self.run_client(
                f"raw x{connections}", s.ceiling_rows, rows_csv, argv, latency=0.0
            )
            best = max(best, f.delete_rate)
            lines.append(self._ceiling_line(f"raw load, {connections} connections", m, f))
        small = h.write_rows(self.path("rows.csv"), h.user_ids(s.ceiling_offboard_rows))
        m, f = self.offboard(
            "offboard",
            s.ceiling_offboard_rows,
            small,
            rate=UNLIMITED,
            concurrency=64,
            cap=s.ceiling_offboard_rows,
            latency=0.0,
        )
        lines.append(self._ceiling_line("offboard, --concurrency 64", m, f))
        table(
            [
                "load",
                "requests",
                "req/s (sandbox log)",
                "sandbox CPU ms/req",
                "sandbox busy %",
                "client CPU ms/req",
            ],
            lines,
        )
        self.ceiling = best
        self.results["ceiling"] = {"raw_best_req_per_s": best, "lines": lines}
        say(f"Sandbox ceiling (best raw rate): {fmt(best, 0)} req/s.")
        say()

    @staticmethod
    def _ceiling_line(label: str, m: h.Measured, f: h.LogFigures) -> list[str]:
        if m.returncode not in (0, 1):
            return [label, "error", failure(m), "", "", ""]
        sandbox_per_req = m.sandbox_cpu / f.requests * 1000 if f.requests else None
        busy = m.sandbox_cpu / m.wall * 100 if m.wall else None
        client_per_req = m.cpu / f.requests * 1000 if f.requests else None
        return [
            label,
            str(f.requests),
            fmt(f.delete_rate, 0),
            fmt(sandbox_per_req, 3),
            fmt(busy, 0),
            fmt(client_per_req, 3),
        ]

    def section_startup(self) -> None:
        startup.section(self, 3 if self.sizes is QUICK else startup.RUNS)

    def section_compare(self) -> None:
        compare.section(
            self, self.sizes.compare_rows, self.sizes.compare_small, self.sizes.compare_pairs
        )

    def raw_capacity(
        self, concurrency: int, rows: int, latency: float, server: str = "sandbox"
    ) -> float:
        """What the sandbox (or the threaded server) serves a near-free client (raw_load.py)
        with this many connections: the most any client could reach at this setting."""
        rows_csv = h.write_rows(self.path("rows.csv"), h.user_ids(rows))
        raw = str(h.BENCH / "raw_load.py")
        m, f = self.run_client(
            f"raw x{concurrency}",
            rows,
            rows_csv,
            lambda url: [
                h.PYTHON,
                raw,
                str(rows_csv),
                "--base-url",
                url,
                "--connections",
                str(concurrency),
            ],
            latency=latency,
            server=server,
        )
        return f.delete_rate if m.returncode == 0 else 0.0

    def section_rates(self) -> None:
        s = self.sizes
        say(
            f"== offboard's achieved rate / min(--rate, concurrency / latency), latency "
            f"{LATENCY * 1000:g} ms, no rate limit at the sandbox =="
        )
        say(
            "Batch sizes give about "
            f"{s.rate_seconds:g} s at the expected rate ({s.rate_rows_min}-{s.rate_rows_max} "
            "rows). 'DELETE phase' is the steady rate from the sandbox log; 'whole run' is "
            "revoked rows / process wall time (startup included). 'sandbox serves' is what the "
            "raw load generator reaches with the same number of connections against the same "
            "sandbox (no rate limit): where it is below 0.97 x expected, the sandbox is the "
            "bottleneck. Target: DELETE-phase ratio >= 0.95 where it is not."
        )
        lines, out = [], []
        capacity: dict[int, float] = {}
        for rate, concurrency in s.rate_settings:
            expected = min(rate, concurrency / LATENCY)
            n = int(min(max(expected * s.rate_seconds, s.rate_rows_min), s.rate_rows_max))
            if concurrency not in capacity:
                capacity[concurrency] = self.raw_capacity(
                    concurrency,
                    int(
                        min(
                            max(concurrency / LATENCY * s.rate_seconds, s.rate_rows_min),
                            s.rate_rows_max,
                        )
                    ),
                    LATENCY,
                )
            serves = capacity[concurrency]
            bound = serves < 0.97 * expected
            rows_csv = h.write_rows(self.path("rows.csv"), h.user_ids(n))
            m, f = self.offboard(
                f"rate {rate:g} c {concurrency}",
                n,
                rows_csv,
                rate=rate,
                concurrency=concurrency,
                cap=n,
                latency=LATENCY,
            )
            if m.returncode not in (0, 1) or not f.deletes:
                lines.append(
                    [
                        f"{rate:g}",
                        str(concurrency),
                        fmt(expected, 0),
                        str(n),
                        fmt(serves, 0),
                        "error",
                        failure(m),
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                continue
            steady = f.delete_rate / expected
            whole = f.deletes_ok / m.wall / expected
            attainable = min(rate, serves)
            of_served = f.delete_rate / attainable if attainable else None
            client_busy = m.cpu / m.wall
            out.append(
                {
                    "rate": rate,
                    "concurrency": concurrency,
                    "expected": expected,
                    "rows": n,
                    "sandbox_serves": serves,
                    "delete_phase_rate": f.delete_rate,
                    "steady_ratio": steady,
                    "whole_ratio": whole,
                    "attainable_ratio": of_served,
                    "offboard_cpu_busy": client_busy,
                    "sandbox_bound": bound,
                }
            )
            lines.append(
                [
                    f"{rate:g}",
                    str(concurrency),
                    fmt(expected, 0),
                    str(n),
                    fmt(serves, 0),
                    fmt(f.delete_rate),
                    fmt(steady, 3),
                    fmt(whole, 3),
                    fmt(of_served, 3),
                    fmt(client_busy * 100, 0),
                    "sandbox-bound" if bound else verdict(steady >= 0.95),
                ]
            )
        table(
            [
                "--rate",
                "--concurrency",
                "expected req/s",
                "rows",
                "sandbox serves req/s",
                "offboard DELETE phase req/s",
                "ratio DELETE phase",
                "ratio whole run",
                "ratio to min(rate, sandbox serves)",
                "offboard CPU %",
                "target",
            ],
            lines,
        )
        self.results["rates"] = out
        say()

    def section_adaptive(self) -> None:
        s = self.sizes
        limit = s.adaptive_limit
        n = int(limit * s.adaptive_seconds)
        say(
            f"== Adaptive: the sandbox limits to L = {limit} req/s (429, Retry-After: 1); "
            f"offboard is not told and runs --rate {5 * limit} --concurrency 32 over {n} rows "
            f"(~{s.adaptive_seconds:g} s at L), latency {LATENCY * 1000:g} ms =="
        )
        say(
            "Goodput: requests answered with anything but 429, per second, from the first to "
            "the last request in the sandbox's log (offboard's look-ups included)."
        )
        rows_csv = h.write_rows(self.path("rows.csv"), h.user_ids(n))
        m, f = self.offboard(
            "adaptive",
            n,
            rows_csv,
            rate=5 * limit,
            concurrency=32,
            cap=n,
            latency=LATENCY,
            rate_limit=limit,
            timeout=max(600, 20 * s.adaptive_seconds),
        )
        if m.returncode not in (0, 1) and not f.requests:
            say(f"error: {failure(m)}")
            self.results["adaptive"] = {"error": failure(m)}
            say()
            return
        good = f.goodput
        counts = m.extra.get("counts", {})
        table(
            [
                "L",
                "--rate",
                "rows",
                "requests",
                "429s",
                "share 429",
                "goodput req/s",
                "goodput / L",
                "wall s",
                "outcomes",
            ],
            [
                [
                    str(limit),
                    str(5 * limit),
                    str(n),
                    str(f.requests),
                    str(f.statuses.get(429, 0)),
                    f"{f.share_429 * 100:.1f}%",
                    fmt(good, 2),
                    fmt(good / limit, 3),
                    fmt(m.wall, 1),
                    " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or failure(m),
                ]
            ],
        )
        say(
            f"Target: goodput >= 0.9 L: {verdict(good >= 0.9 * limit)}; "
            f"<= 3% 429s: {verdict(f.share_429 <= 0.03)}"
        )
        self.results["adaptive"] = {
            "limit": limit,
            "rate": 5 * limit,
            "rows": n,
            "requests": f.requests,
            "statuses": f.statuses,
            "goodput": good,
            "share_429": f.share_429,
            "wall": m.wall,
            "counts": counts,
            "returncode": m.returncode,
        }
        say()

    def section_shapes(self) -> None:
        work = self.path("shapes")
        work.mkdir()
        self.results["shapes"] = adaptive.section(work, self.env, self.sizes.shapes_scale, say)

    def section_memory(self) -> None:
        s = self.sizes
        say(
            f"== Memory: peak RSS of `offboard run` on {s.memory_small:,} vs "
            f"{s.memory_large:,} rows =="
        )
        say(
            f"Both CSVs (account,user,ticket) start with the same {s.memory_sent:,} rows that "
            "are sent and revoked; every other row is never sent: alternately a `duplicate` of "
            "a sent row (same account and user) and an `invalid` row (user `n/a`). Sandbox "
            f"latency 0, --rate {UNLIMITED} --concurrency 64, --max-revocations "
            f"{s.memory_sent}. The report (results.csv, results.jsonl, one CSV per outcome) "
            "is written for every row."
        )
        send = h.user_ids(s.memory_sent)
        lines, rss = [], {}
        for total in (s.memory_small, s.memory_large):
            rows_csv = self.path(f"rows-{total}.csv")
            expected = h.write_padded_rows(rows_csv, send, total)
            m, _ = self.offboard(
                f"memory {total}",
                s.memory_sent,
                rows_csv,
                rate=UNLIMITED,
                concurrency=64,
                cap=s.memory_sent,
                latency=0.0,
                timeout=1200,
            )
            counts = m.extra.get("counts", {})
            rows_csv.unlink()
            ok = m.returncode in (0, 1) and counts == expected
            rss[total] = m.maxrss_mb if ok else None
            lines.append(
                [
                    f"{total:,}",
                    fmt(m.maxrss_mb, 0),
                    fmt(m.wall, 1),
                    fmt(m.cpu, 1),
                    fmt(m.cpu / total * 1e6, 1),
                    " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
                    if ok
                    else failure(m) + f" counts={counts}",
                ]
            )
        table(["rows", "peak RSS MB", "wall s", "CPU s", "CPU us/row", "outcomes"], lines)
        small, large = rss.get(s.memory_small), rss.get(s.memory_large)
        if small and large:
            say(f"Ratio large / small: {large / small:.2f} x")
            if s.memory_large == 1_000_000:
                say(
                    f"Target: 1M <= 1.2 x 10k: {verdict(large <= 1.2 * small)}; "
                    f"1M < 200 MB: {verdict(large < 200)}"
                )
        self.results["memory"] = {"rss_mb": rss, "lines": lines}
        say()

    def section_verification(self) -> None:
        s = self.sizes
        c = 32
        say(
            f"== Verification: the read-back after N revokes, a world of N + 50 users, latency "
            f"{LATENCY * 1000:g} ms, no rate limit, --rate {UNLIMITED} --concurrency {c} =="
        )
        say(
            "After the DELETEs offboard reads every revoked row back, by whichever read costs "
            "fewer requests: per row (GET /iam/clients/{a}/client-users/{u}, one a row) or the "
            "listing (GET /iam/users, 100 users a page, sized by the listing the run read "
            "first). 'reads' are the requests after the last DELETE in the sandbox's log; "
            "'per row would' and 'listing would' are both costs as offboard estimates them "
            "(the listing read after the revokes is shorter: deleted users are gone). 'extra' "
            "is reads / DELETEs; 'at --rate 5' is the time the reads add at the default rate; "
            "'read-back s' is from the last DELETE to the last read here."
        )
        lines, out = [], []
        for n in s.verify_rows:
            users = n + 50
            listed = users + 1  # the key's own user is listed too
            rows_csv = h.write_rows(self.path("rows.csv"), h.user_ids(n))
            report = self.path("report")
            world = h.write_world(self.path("world.json"), users, latency=LATENCY)
            with h.SandboxProcess(world) as sandbox:
                m = h.measure(
                    f"verify {n}",
                    h.offboard_argv(
                        rows_csv,
                        sandbox.url,
                        rate=UNLIMITED,
                        concurrency=c,
                        cap=n,
                        report_dir=report,
                    ),
                    self.env,
                    h.ROOT,
                    sandbox,
                )
                log = sandbox.log()
            summary = _summary(report)
            verified = _verified_rows(report)
            shutil.rmtree(report, ignore_errors=True)
            deleted = [i for i, r in enumerate(log) if r["method"] == "DELETE"]
            if m.returncode != 0 or not deleted or not summary:
                lines.append([str(n), str(users), "error", failure(m), "", "", "", "", "", "", ""])
                continue
            after = log[deleted[-1] + 1 :]
            pages = sum(1 for r in after if r["path"] == "/iam/users")
            member = sum(
                1 for r in after if re.fullmatch(r"/iam/clients/\d+/client-users/\d+", r["path"])
            )
            reads = len(after)
            took = after[-1]["time"] - log[deleted[-1]]["time"] if after else 0.0
            method = str(summary.get("verify_method"))
            figures = {
                "rows": n,
                "users": users,
                "deletes": len(deleted),
                "method": method,
                "reads": reads,
                "listing_pages": pages,
                "member_reads": member,
                "verify_requests": summary.get("verify_requests"),
                "per_row_estimate": n,
                "listing_estimate": math.ceil(listed / 100),
                "extra_share": reads / len(deleted),
                "readback_seconds": took,
                "verified_rows": verified,
            }
            out.append(figures)
            lines.append(
                [
                    str(n),
                    str(users),
                    str(len(deleted)),
                    method,
                    f"{reads} ({pages} listing + {member} per row)",
                    str(n),
                    str(math.ceil(listed / 100)),
                    f"{reads / len(deleted) * 100:.1f}%",
                    fmt(reads / 5, 1),
                    fmt(took, 2),
                    f"{verified}/{n}",
                ]
            )
        table(
            [
                "N",
                "users",
                "DELETEs",
                "method",
                "reads",
                "per row would",
                "listing would",
                "extra",
                "at --rate 5 s",
                "read-back s",
                "verified",
            ],
            lines,
        )
        self.results["verification"] = out
        say()


def _summary(report_dir: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((report_dir / "summary.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded


def _verified_rows(report_dir: Path) -> int:
    """Rows offboard recorded as read back and gone (verified=true in results.jsonl)."""
    try:
        lines = (report_dir / "results.jsonl").read_text("utf-8").splitlines()
    except OSError:
        return 0
    return sum(1 for line in lines if json.loads(line).get("verified") is True)


def code_fingerprint() -> str:
    """sha256 of every offboard/*.py (path and content), to tie figures to a code state."""
    digest = hashlib.sha256()
    for path in sorted((h.ROOT / "offboard").rglob("*.py")):
        digest.update(str(path.relative_to(h.ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "offboard_code_sha256": code_fingerprint(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="offboard's benchmarks (see BENCHMARKS.md)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--only",
        help=f"comma-separated sections: {','.join(SECTIONS)} "
        "(default: all of them, or none with --profile)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile offboard over the compare batch (CPU by package and by "
        "function); alone it runs no section",
    )
    parser.add_argument(
        "--profile-out", metavar="PATH", help="with --profile: keep the cProfile stats here"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args()
    only = args.only if args.only is not None else "" if args.profile else ",".join(SECTIONS)
    wanted = [x.strip() for x in only.split(",") if x.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    info = machine()
    say(
        f"offboard benchmarks ({'quick' if args.quick else 'full'}): {info['date']}; "
        f"{info['cpus']} x {info['cpu_model']}; Python {info['python']}; load average "
        f"{info['load_average']}; offboard code sha256 {info['offboard_code_sha256']}"
    )
    say()
    started = time.perf_counter()
    h.compile_offboard()
    with tempfile.TemporaryDirectory(prefix="offboard-bench-") as work:
        bench = Bench(QUICK if args.quick else FULL, Path(work))
        bench.results["machine"] = info
        for section in SECTIONS:  # in this order: `rates` uses the ceiling
            if section in wanted:
                say(f"[{section}: load average {os.getloadavg()[0]:.2f} before it]")
                getattr(bench, f"section_{section}")()
        if args.profile:
            say(f"[profile: load average {os.getloadavg()[0]:.2f} before it]")
            keep = Path(args.profile_out).resolve() if args.profile_out else None
            compare.profile(bench, bench.sizes.compare_rows, keep)
    say(f"Finished in {time.perf_counter() - started:.0f} s.")
    if bench.sdk_note:
        say(f"Note: {bench.sdk_note}.")
    if args.json:
        Path(args.json).write_text(
            json.dumps(bench.results, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
