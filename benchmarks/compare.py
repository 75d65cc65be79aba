"""benchmarks/run.py's `compare` section and its `--profile` (issue 14).

compare: offboard beside the official SDK script (benchmarks/sdk_script.py), the floor
(benchmarks/floor.py: the least CPU Python spends sending these DELETEs) and a naive sequential
loop, on the same rows at the same concurrency, each client in its own process against its own
fresh sandbox, next to what the sandbox itself serves a near-free client (benchmarks/raw_load.py)
at that setting. Then offboard, the SDK script and the floor again against a second, independent
server (benchmarks/threaded_server.py: ThreadingHTTPServer, a thread per connection), so that
figures that depend on the server are not read off one simulator alone.

profile: offboard on the same batch, once, under cProfile timed with time.process_time (CPU,
not wall time), summarised by benchmarks/profile_summary.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import floor_goals
import harness as h
import pairs
import profile_summary
from harness import failure, fmt, say, table, verdict

CONCURRENCY = 32
LATENCY = 0.02
UNLIMITED = 10_000  # offboard's largest --rate: only the concurrency binds
SANDBOX_BOUND = 0.9  # a DELETE phase at >= this x what the sandbox serves is capped by it
CLIENTS = ("offboard", "sdk", "floor", "naive")

# issue 14's targets
CPU_X_SDK = 0.15  # offboard's CPU per row (whole process) <= this x the SDK script's
MARGINAL_MS = 0.6  # offboard's marginal CPU per row <= this many ms
THROUGHPUT_X_SDK = 5.0  # offboard's whole-run rows/s >= this x the SDK script's

# `python -c PROFILED OUT.prof run ARGS...`: `python -m offboard run ARGS...` under cProfile, timed
# in CPU; the stats are written however offboard ends, and its exit code is kept.
PROFILED = """\
import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], ["offboard", *sys.argv[2:]]
profiler = cProfile.Profile(time.process_time)
code = 0
profiler.enable()
try:
    runpy.run_module("offboard", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
finally:
    profiler.disable()
    profiler.dump_stats(out)
sys.exit(code)
"""


class Bench(Protocol):
    """What these sections use of run.py's Bench."""

    results: dict[str, Any]
    sdk_missing: str
    sdk_python: str

    def path(self, name: str) -> Path: ...

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
    ) -> tuple[h.Measured, h.LogFigures]: ...

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
    ) -> tuple[h.Measured, h.LogFigures]: ...

    def raw_capacity(
        self, concurrency: int, rows: int, latency: float, server: str = "sandbox"
    ) -> float: ...


def run(
    bench: Bench, client: str, rows_csv: Path, n: int, server: str = "sandbox"
) -> tuple[h.Measured, h.LogFigures]:
    """One client over `n` rows against a fresh server (the sandbox or the threaded server)
    with n users."""
    if client == "offboard":
        return bench.offboard(
            "offboard",
            n,
            rows_csv,
            rate=UNLIMITED,
            concurrency=CONCURRENCY,
            cap=n,
            latency=LATENCY,
            server=server,
        )
    script = str(
        h.BENCH / {"sdk": "sdk_script.py", "floor": "floor.py", "naive": "naive_loop.py"}[client]
    )
    extra = [] if client == "naive" else ["--concurrency", str(CONCURRENCY)]
    python = bench.sdk_python if client == "sdk" else h.PYTHON  # the SDK may have its own venv
    return bench.run_client(
        client,
        n,
        rows_csv,
        lambda url: [python, script, str(rows_csv), "--base-url", url, *extra],
        latency=LATENCY,
        server=server,
    )


def lookups_alone(bench: Bench, rows_csv: Path, n: int, server: str) -> float | None:
    """Seconds from the first request the server saw to the first DELETE, for the look-ups
    alone (benchmarks/lookups_floor.py) against a fresh server of this kind: what issue 22
    calls the look-ups' own round trips. None when the script failed."""
    script = str(h.BENCH / "lookups_floor.py")
    concurrency = ["--concurrency", str(CONCURRENCY)]
    m, f = bench.run_client(
        "lookups",
        n,
        rows_csv,
        lambda url: [h.PYTHON, script, str(rows_csv), "--base-url", url, *concurrency],
        latency=LATENCY,
        server=server,
    )
    return f.before_deletes if m.returncode == 0 and f.deletes else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def section(bench: Bench, rows: int, small: int | None, pairs_of: int = pairs.PAIRS) -> None:
    c = CONCURRENCY
    say(
        f"== offboard vs the official SDK vs the floor vs a naive loop: {rows} rows, "
        f"concurrency {c}, latency {LATENCY * 1000:g} ms, no rate limit =="
    )
    say(
        f"offboard runs with --rate {UNLIMITED} (its maximum) so that only the concurrency "
        "binds, as for the SDK script (AsyncGcore + Semaphore) and the floor (benchmarks/floor.py:"
        f" {c} workers, each its own one-connection httpcore pool, plain DELETEs, nothing else). "
        "The naive loop sends one DELETE after another. 'whole run' counts the process from exec "
        "to exit (interpreter start, imports, offboard's GET /iam/clients/me and the /iam/users "
        "listing, the report); 'DELETE phase' is (DELETEs - 1) / (last DELETE arrival - first "
        "DELETE arrival) in the sandbox's log; 's before 1st DELETE' is from the first request "
        "the sandbox saw to the first DELETE (offboard's look-ups). 'of sandbox' is the DELETE "
        "phase / what the sandbox serves a near-free client at this setting (below)."
    )
    if small:
        say(
            f"'marginal' CPU is (CPU at {rows} rows - CPU at {small} rows) / {rows - small}: "
            "the per-row cost without fixed costs."
        )
    if bench.sdk_missing:
        say(f"SKIPPED the SDK: {bench.sdk_missing}")
    capacity = bench.raw_capacity(c, max(rows, 10 * c), LATENCY)
    big = h.write_rows(bench.path("rows.csv"), h.user_ids(rows))
    small_csv = h.write_rows(bench.path("rows.csv"), h.user_ids(small)) if small else None
    say(f"Server 1 of 2: {SERVERS['sandbox']}.")
    figures, lines = _clients(bench, CLIENTS, big, rows, small_csv, small, capacity, "sandbox")
    _table(lines, "sandbox")
    say()
    bound = _sandbox_lines(capacity, figures, rows)
    say()
    ob = figures.get("offboard")
    ratios = _ratios(figures, ("sdk", "floor", "naive"))
    targets = _targets(
        ob, figures.get("sdk"), figures.get("floor"), capacity, bool(bench.sdk_missing)
    )
    bench.results["compare"] = {
        "rows": rows,
        "small": small,
        "concurrency": c,
        "latency": LATENCY,
        "server": SERVERS["sandbox"],
        "sandbox_serves": capacity,
        "sandbox_bound": bound,
        "figures": figures,
        "ratios": ratios,
        "targets": targets,
    }
    say()
    alone = lookups_alone(bench, big, rows, "sandbox")
    bench.results["compare"]["lookups_alone"] = alone
    bench.results["compare"]["goals"] = floor_goals.goals(
        figures, LATENCY, "offboard's sandbox", alone
    )
    say()
    bench.results["compare"]["paired"] = _paired(bench, big, rows, "sandbox", pairs_of)
    say()
    bench.results["compare"]["threaded"] = threaded(bench, big, rows, small_csv, small, pairs_of)


SERVERS = {
    "sandbox": "offboard's sandbox (`offboard sandbox`: uvicorn + h11 on asyncio, one thread "
    "serving every connection)",
    "threaded": "benchmarks/threaded_server.py (the standard library's ThreadingHTTPServer: "
    "HTTP/1.1 keep-alive, one thread per connection, time.sleep for the latency; "
    "no offboard code)",
}
THREADED_CLIENTS = ("offboard", "sdk", "floor")  # the naive loop takes a minute: left out


def threaded(
    bench: Bench,
    big: Path,
    rows: int,
    small_csv: Path | None,
    small: int | None,
    pairs_of: int = pairs.PAIRS,
) -> dict[str, Any]:
    """offboard, the SDK script and the floor again, against the threaded server: figures that
    depend on the server (throughput, CPU per request) beside the sandbox's."""
    c = CONCURRENCY
    say(
        f"== The same comparison against a second, independent server: {rows} rows, "
        f"concurrency {c}, latency {LATENCY * 1000:g} ms, no rate limit =="
    )
    say(
        f"Server 2 of 2: {SERVERS['threaded']}. Throughput and CPU per request depend on the "
        "server (its HTTP framing, its CPU on the shared cores), so the same clients run here "
        "too, each in its own process against a fresh server process, with the same rows and "
        "settings; the naive loop is left out (it takes a minute at 20 ms a request). Columns "
        "as above, from this server's request log (GET /_log); 'of server' is the DELETE "
        "phase / what this server serves benchmarks/raw_load.py at this setting."
    )
    capacity = bench.raw_capacity(c, max(rows, 10 * c), LATENCY, server="threaded")
    figures, lines = _clients(
        bench, THREADED_CLIENTS, big, rows, small_csv, small, capacity, "server"
    )
    _table(lines, "server")
    say()
    bound = _sandbox_lines(capacity, figures, rows, "threaded server", "server")
    say()
    ratios = _ratios(figures, ("sdk", "floor"))
    targets = _targets(
        figures.get("offboard"),
        figures.get("sdk"),
        figures.get("floor"),
        capacity,
        bool(bench.sdk_missing),
        "[threaded server] ",
        "server",
    )
    say()
    alone = lookups_alone(bench, big, rows, "threaded")
    goals = floor_goals.goals(figures, LATENCY, "the threaded server", alone)
    say()
    paired = _paired(bench, big, rows, "threaded", pairs_of)
    say()
    return {
        "rows": rows,
        "small": small,
        "concurrency": c,
        "latency": LATENCY,
        "server": SERVERS["threaded"],
        "server_serves": capacity,
        "server_bound": bound,
        "figures": figures,
        "ratios": ratios,
        "targets": targets,
        "lookups_alone": alone,
        "goals": goals,
        "paired": paired,
    }


def _paired(bench: Bench, rows_csv: Path, n: int, server: str, pairs_of: int) -> dict[str, Any]:
    """offboard and the floor again, in alternating pairs (benchmarks/pairs.py)."""
    found = pairs.paired(
        lambda client, csv, k, where: run(bench, client, csv, k, where),
        rows_csv,
        n,
        server,
        pairs_of,
    )
    pairs.show(found, "offboard's sandbox" if server == "sandbox" else "the threaded server")
    return found


def _clients(
    bench: Bench,
    clients: tuple[str, ...],
    big: Path,
    rows: int,
    small_csv: Path | None,
    small: int | None,
    capacity: float,
    word: str,
) -> tuple[dict[str, dict[str, Any]], list[list[str]]]:
    """Each client over the rows (and the smaller batch, for the marginal CPU) against a fresh
    server each: the figures by client and the table's lines. `word`: "sandbox" runs against
    the sandbox, "server" against the threaded server (and names the figures' keys)."""
    server = "sandbox" if word == "sandbox" else "threaded"
    figures: dict[str, dict[str, Any]] = {}
    lines = []
    for client in clients:
        if client == "sdk" and bench.sdk_missing:
            continue
        m, f = run(bench, client, big, rows, server)
        marginal = None
        if small and small_csv is not None:
            m_small, _ = run(bench, client, small_csv, small, server)
            if m_small.returncode in (0, 1):
                marginal = (m.cpu - m_small.cpu) / (rows - small) * 1000
        if m.returncode not in (0, 1) or f.deletes_ok == 0:
            lines.append([client, "error", failure(m), *[""] * 8])
            continue
        done = f.deletes_ok
        row: dict[str, Any] = {
            "revoked": done,
            "wall": m.wall,
            "cpu": m.cpu,
            "rows_per_s": done / m.wall,
            "delete_phase_rows_per_s": f.delete_rate,
            "before_deletes": f.before_deletes,
            "cpu_per_1000": m.cpu / done * 1000,
            "marginal_cpu_per_1000": marginal,
            "peak_rss_mb": m.maxrss_mb,
            f"{word}_busy": m.sandbox_cpu / m.wall,
            f"of_{word}": ratio(f.delete_rate, capacity),
        }
        figures[client] = row
        of = row[f"of_{word}"]
        lines.append(
            [
                client,
                f"{done}/{rows}",
                fmt(m.wall, 2),
                fmt(f.before_deletes, 2),
                fmt(row["rows_per_s"]),
                fmt(f.delete_rate),
                fmt(row["cpu_per_1000"], 2),
                fmt(marginal, 2),
                fmt(m.maxrss_mb, 0),
                fmt(row[f"{word}_busy"] * 100, 0),
                fmt(None if of is None else of * 100, 0),
            ]
        )
    return figures, lines


def _table(lines: list[list[str]], word: str) -> None:
    table(
        [
            "client",
            "revoked",
            "wall s",
            "s before 1st DELETE",
            "rows/s whole run",
            "rows/s DELETE phase",
            "CPU s/1000 rows",
            "marginal CPU s/1000",
            "peak RSS MB",
            f"{word} busy %",
            f"of {word} %",
        ],
        lines,
    )


def _ratios(
    figures: dict[str, dict[str, Any]], others: tuple[str, ...]
) -> dict[str, dict[str, float | None]]:
    """offboard's figures / each other client's, printed as a table; returned for --json."""
    ob = figures.get("offboard")
    ratios: dict[str, dict[str, float | None]] = {}
    for other in others:
        them = figures.get(other)
        if ob and them:
            ratios[other] = {
                key: ratio(ob[key], them[key])
                for key in (
                    "rows_per_s",
                    "delete_phase_rows_per_s",
                    "cpu_per_1000",
                    "marginal_cpu_per_1000",
                    "peak_rss_mb",
                )
            }
    if ratios:
        table(
            [
                "ratio",
                "throughput whole run",
                "throughput DELETE phase",
                "CPU per row",
                "marginal CPU per row",
                "peak RSS",
            ],
            [
                [f"offboard / {other}", *(fmt(v, 2) for v in r.values())]
                for other, r in ratios.items()
            ],
        )
    return ratios


def _sandbox_lines(
    capacity: float,
    figures: dict[str, dict[str, Any]],
    rows: int,
    name: str = "sandbox",
    word: str = "sandbox",
) -> list[str]:
    """Says what the sandbox (or the server `name`) serves here and which figures it caps;
    returns the capped clients."""
    say(
        f"The {name}'s own ceiling here: benchmarks/raw_load.py (~0.12 ms of CPU per request) "
        f"with {CONCURRENCY} connections against the same {name} setup (latency "
        f"{LATENCY * 1000:g} ms, no rate limit) reaches {fmt(capacity, 0)} req/s "
        f"(concurrency / latency would be {CONCURRENCY / LATENCY:,.0f}). A client that spends "
        f"more CPU shares the machine's cores with the {name}, so it can be capped lower."
    )
    if not capacity:
        say(f"The raw load generator failed: which figures the {name} caps is unknown.")
        return []
    if rows < 10 * CONCURRENCY:
        say(
            f"(With {rows} rows a DELETE phase is a few round trips: these rates and what "
            "follows from them are indicative only.)"
        )
    bound = [
        c for c, f in figures.items() if f["delete_phase_rows_per_s"] >= SANDBOX_BOUND * capacity
    ]
    for client in bound:
        say(
            f"{client}'s DELETE phase ({fmt(figures[client]['delete_phase_rows_per_s'], 0)}/s) is "
            f"{figures[client][f'of_{word}']:.2f} x that: {word}-bound."
        )
    if "offboard" in bound:
        say(
            "So the throughput ratios (offboard / sdk, / floor, / naive) and the throughput "
            f"target are {word.upper()}-BOUND: they show what this {name} serves, not how fast "
            "offboard could go; the CPU figures are not capped by it."
        )
    elif "offboard" in figures:
        say(
            f"offboard's DELETE phase is {figures['offboard'][f'of_{word}']:.2f} x that: not "
            f"{word}-bound (< {SANDBOX_BOUND:g} x), so its throughput ratios measure the "
            "clients."
        )
    sdk = figures.get("sdk")
    if sdk and THROUGHPUT_X_SDK * sdk["rows_per_s"] > capacity:
        say(
            f"{THROUGHPUT_X_SDK:g} x the SDK script's whole-run throughput is "
            f"{fmt(THROUGHPUT_X_SDK * sdk['rows_per_s'], 0)} rows/s, above what the {name} "
            f"serves: no client can meet the throughput target against this {name} here."
        )
    return bound


def _targets(
    ob: dict[str, Any] | None,
    sdk: dict[str, Any] | None,
    floor: dict[str, Any] | None,
    capacity: float,
    no_sdk: bool,
    prefix: str = "",
    word: str = "sandbox",
) -> dict[str, Any]:
    """Prints issue 14's targets with their figures, each line after `prefix` (the server's
    label; none for the sandbox); returns them for --json."""
    missing = "n/a (the SDK is not installed)" if no_sdk else "n/a (a client failed)"
    out: dict[str, Any] = {}
    if ob and sdk:
        cpu = ob["cpu_per_1000"] / sdk["cpu_per_1000"]
        below_floor = floor is not None and CPU_X_SDK * sdk["cpu_per_1000"] < floor["cpu_per_1000"]
        out["cpu_x_sdk"] = {
            "value": cpu,
            "limit": CPU_X_SDK,
            "met": cpu <= CPU_X_SDK,
            "below_the_floor": below_floor,
        }
        say(
            f"{prefix}Target: offboard's CPU per 1,000 rows (whole process) <= {CPU_X_SDK:g} x "
            f"the SDK script's: {fmt(ob['cpu_per_1000'], 2)} s vs {fmt(sdk['cpu_per_1000'], 2)}"
            f" s = {cpu:.3f} x -> {verdict(cpu <= CPU_X_SDK)}"
            + (
                f" ({CPU_X_SDK:g} x is {CPU_X_SDK * sdk['cpu_per_1000']:.2f} s, below the floor's"
                f" {floor['cpu_per_1000']:.2f} s)"
                if below_floor and floor
                else ""
            )
        )
    else:
        say(
            f"{prefix}Target: offboard's CPU per 1,000 rows <= {CPU_X_SDK:g} x the SDK "
            f"script's: {missing}"
        )
    marginal = ob["marginal_cpu_per_1000"] if ob else None
    met = None if marginal is None else marginal <= MARGINAL_MS
    out["marginal_cpu_ms_per_row"] = {"value": marginal, "limit": MARGINAL_MS, "met": met}
    say(
        f"{prefix}Target: offboard's marginal CPU per row <= {MARGINAL_MS:g} ms: "
        + (
            f"{marginal:.3f} ms -> {verdict(met)}"
            if marginal is not None
            else "n/a (needs the smaller batch: not run with --quick)"
            if ob
            else missing
        )
    )
    if ob and sdk:
        tp = ob["rows_per_s"] / sdk["rows_per_s"]
        reachable = THROUGHPUT_X_SDK * sdk["rows_per_s"] <= capacity if capacity else None
        out["throughput_x_sdk"] = {
            "value": tp,
            "limit": THROUGHPUT_X_SDK,
            "met": tp >= THROUGHPUT_X_SDK,
            f"reachable_against_{word}": reachable,
        }
        say(
            f"{prefix}Target: offboard's whole-run throughput >= {THROUGHPUT_X_SDK:g} x the SDK "
            f"script's: {fmt(ob['rows_per_s'])} vs {fmt(sdk['rows_per_s'])} rows/s = {tp:.2f} x"
            f" -> {verdict(tp >= THROUGHPUT_X_SDK)}"
            + ("" if reachable in (True, None) else f" (out of reach here: {word}-bound)")
        )
    else:
        say(
            f"{prefix}Target: offboard's whole-run throughput >= {THROUGHPUT_X_SDK:g} x the SDK "
            f"script's: {missing}"
        )
    if ob and floor:
        whole = ob["cpu_per_1000"] / floor["cpu_per_1000"]
        marginal_x = ratio(ob["marginal_cpu_per_1000"], floor["marginal_cpu_per_1000"])
        out["cpu_x_floor"] = {"value": whole, "marginal": marginal_x}
        say(
            f"{prefix}offboard's CPU per row / the floor's (no target): whole process "
            f"{whole:.2f} x ({fmt(ob['cpu_per_1000'], 2)} vs {fmt(floor['cpu_per_1000'], 2)} "
            "ms); marginal "
            + (
                f"{marginal_x:.2f} x ({ob['marginal_cpu_per_1000']:.3f} vs "
                f"{floor['marginal_cpu_per_1000']:.3f} ms)"
                if marginal_x is not None
                else "n/a"
            )
        )
    return out


def profile(bench: Bench, rows: int, keep: Path | None = None) -> None:
    """offboard once over the compare batch, under cProfile in CPU time, and where CPU goes."""
    say(
        f"== Profile: offboard over the compare batch ({rows} rows, --rate {UNLIMITED} "
        f"--concurrency {CONCURRENCY}, latency {LATENCY * 1000:g} ms, a fresh sandbox) under "
        "cProfile, timed in CPU (time.process_time) =="
    )
    rows_csv = h.write_rows(bench.path("rows.csv"), h.user_ids(rows))
    report, stats = bench.path("report"), bench.path("offboard.prof")

    def argv(url: str) -> list[str]:
        command = h.offboard_argv(
            rows_csv, url, rate=UNLIMITED, concurrency=CONCURRENCY, cap=rows, report_dir=report
        )
        return [h.PYTHON, "-c", PROFILED, str(stats), *command[3:]]  # [3:]: after -m offboard

    m, f = bench.run_client("profile", rows, rows_csv, argv, latency=LATENCY, report_dir=report)
    say(
        f"offboard exited {m.returncode}, revoked {f.deletes_ok}/{rows} (sandbox log); wall "
        f"{m.wall:.2f} s, CPU {m.cpu:.2f} s (wait4: interpreter start and profiler overhead "
        "included)."
    )
    result: dict[str, Any] = {
        "rows": rows,
        "returncode": m.returncode,
        "wall": m.wall,
        "cpu": m.cpu,
        "revoked": f.deletes_ok,
    }
    if m.returncode not in (0, 1) or not stats.exists():
        say(f"No profile: {failure(m)}")
    else:
        result["lines"] = profile_summary.summarise(stats)
        if keep is not None:  # for pstats' callers and callees, which the summary leaves out
            shutil.copyfile(stats, keep)
            say(f"The cProfile stats: {keep}")
        for line in result["lines"]:
            say(line)
    bench.results["profile"] = result
    say()
