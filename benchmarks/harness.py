"""Shared plumbing for the benchmarks: worlds and CSVs, the sandbox (or the threaded server,
benchmarks/threaded_server.py) in its own process, measuring a client process (wall time, CPU,
peak RSS) with os.wait4, and printing figures.

Nothing here imports offboard: the sandbox and offboard itself run as separate processes
(`python -m offboard ...`), exactly as a person would start them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable

KEY = "bench_5e1f0c2d9a7b4c33"
ACCOUNT = 1000
KEY_USER = 1
FIRST_USER = 100_001
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- inputs -----------------------------------------------------------------------------------


def write_world(
    path: Path,
    users: int,
    *,
    latency: float,
    rate_limit: int | None = None,
    first_user: int = FIRST_USER,
) -> Path:
    """A sandbox world: the key's user administers account 1000, which has `users` plain members
    (ids first_user..), each with an email. Written as JSON, which the YAML loader reads."""
    members = [
        {
            "id": KEY_USER,
            "email": "it-admin@bench.example",
            "name": "IT Admin",
            "roles": {str(ACCOUNT): "Administrators"},
        }
    ]
    members += [
        {
            "id": first_user + i,
            "email": f"leaver{first_user + i}@bench.example",
            "roles": {str(ACCOUNT): "Users"},
        }
        for i in range(users)
    ]
    faults: dict[str, Any] = {"latency": latency}
    if rate_limit is not None:
        faults["rate_limit"] = rate_limit
        faults["retry_after"] = 1
    world = {
        "api_key": KEY,
        "account": ACCOUNT,
        "key_user": KEY_USER,
        "accounts": [{"id": ACCOUNT, "name": "Bench Co"}],
        "users": members,
        "faults": faults,
    }
    path.write_text(json.dumps(world), encoding="utf-8")
    return path


def user_ids(count: int, first_user: int = FIRST_USER) -> list[int]:
    return list(range(first_user, first_user + count))


def write_rows(path: Path, users: Iterable[int]) -> Path:
    """The leavers CSV every client reads: `account,user,ticket`, user IDs only."""
    with path.open("w", encoding="utf-8") as out:
        out.write("account,user,ticket\n")
        for n, user in enumerate(users):
            out.write(f"{ACCOUNT},{user},HR-{n % 9000 + 1000}\n")
    return path


def write_padded_rows(path: Path, send: Sequence[int], total: int) -> dict[str, int]:
    """`total` rows: first one row per user in `send` (each revoked), then filler rows that are
    never sent, alternating a `duplicate` (the same account and user as a sent row) and an
    `invalid` row (user `n/a`). Returns the expected count per outcome."""
    filler = total - len(send)
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write("account,user,ticket\n")
        for n, user in enumerate(send):
            out.write(f"{ACCOUNT},{user},HR-{n % 9000 + 1000}\n")
        for n in range(filler):
            if n % 2 == 0:
                out.write(f"{ACCOUNT},{send[(n // 2) % len(send)]},HR-{n % 9000 + 1000}\n")
            else:
                out.write(f"{ACCOUNT},n/a,HR-{n % 9000 + 1000}\n")
    return {"revoked": len(send), "duplicate": (filler + 1) // 2, "invalid": filler // 2}


# -- the sandbox process ----------------------------------------------------------------------


# Compiled bytecode for every client: pip compiles what it installs (the SDK, httpx), but
# offboard is an editable install, and a machine that sets PYTHONDONTWRITEBYTECODE (this one
# does) would make offboard alone compile its ~40 modules from source on every run, which an
# installed offboard never does. So the clients run without it, and compile_offboard() writes
# offboard's __pycache__ (git ignores it) before the first measurement.


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GCORE_") and k not in ("OFFBOARD_DEBUG", "PYTHONDONTWRITEBYTECODE")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def compile_offboard() -> None:
    """offboard's bytecode beside its code, as installing it would write it."""
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", str(ROOT / "offboard"), str(BENCH)],
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a live process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class SandboxProcess:
    """`python -m offboard sandbox --port 0 --scenario WORLD` in its own process."""

    kind = "sandbox"
    log_path = "/_sandbox/log"

    def __init__(self, world: Path, start_timeout: float = 120.0) -> None:
        self.world = world
        self.start_timeout = start_timeout
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu_at_exit = 0.0
        self.maxrss_kb = 0
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())

    def argv(self) -> list[str]:
        return [PYTHON, "-m", "offboard", "sandbox", "--port", "0", "--scenario", str(self.world)]

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            self.argv(),
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        timer = threading.Timer(self.start_timeout, self.proc.kill)
        timer.start()
        try:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                found = re.search(rb"http://127\.0\.0\.1:\d+", line)
                if found:
                    self.url = found.group().decode()
                    break
        finally:
            timer.cancel()
        if not self.url:
            self._stderr.seek(0)
            raise RuntimeError(
                f"the {self.kind} did not start: "
                + self._stderr.read().decode(errors="replace")[-2000:]
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def log(self) -> list[dict[str, Any]]:
        """Every API request so far: {time, method, path, query, status, applied, request_id}."""
        records: list[dict[str, Any]] = httpx.get(
            f"{self.url}{self.log_path}", timeout=120, trust_env=False
        ).json()
        return records

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, status, usage = _wait4(self.proc.pid, timeout=15)
        except TimeoutError:
            self.proc.kill()
            _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_at_exit = usage.ru_utime + usage.ru_stime
        self.maxrss_kb = usage.ru_maxrss
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


class ThreadedServerProcess(SandboxProcess):
    """benchmarks/threaded_server.py in its own process: a second, independent server
    (http.server.ThreadingHTTPServer, a thread per connection) with the world write_world
    describes: the key's user and `users` plain members of ACCOUNT, no faults but latency."""

    kind = "threaded server"
    log_path = "/_log"

    def __init__(
        self,
        users: int,
        *,
        latency: float,
        first_user: int = FIRST_USER,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__(Path(), start_timeout)
        self.users = users
        self.latency = latency
        self.first_user = first_user

    def argv(self) -> list[str]:
        return [
            PYTHON,
            str(BENCH / "threaded_server.py"),
            "--key",
            KEY,
            "--users",
            str(self.users),
            "--first-user",
            str(self.first_user),
            "--account",
            str(ACCOUNT),
            "--key-user",
            str(KEY_USER),
            "--latency",
            f"{self.latency:g}",
        ]


def _wait4(pid: int, timeout: float) -> tuple[int, int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got == pid:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


# -- measuring a client -----------------------------------------------------------------------


@dataclass
class Measured:
    """One client process: wall time, its own CPU (user+sys) and peak RSS, from os.wait4."""

    label: str
    returncode: int
    wall: float
    cpu: float
    maxrss_mb: float
    stdout: str
    stderr: str
    sandbox_cpu: float = 0.0  # the sandbox's CPU seconds while this client ran
    extra: dict[str, Any] = field(default_factory=dict)


def measure(
    label: str,
    argv: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    sandbox: SandboxProcess | None = None,
    timeout: float = 900,
) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sandbox_before = sandbox.cpu() if sandbox else 0.0
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        try:
            _, status, usage = _wait4(proc.pid, timeout)
        except TimeoutError:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        sandbox_cpu = sandbox.cpu() - sandbox_before if sandbox else 0.0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            label,
            proc.returncode,
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            sandbox_cpu,
        )


def offboard_argv(
    rows: Path, url: str, *, rate: float, concurrency: int, cap: int, report_dir: Path
) -> list[str]:
    return [
        PYTHON,
        "-m",
        "offboard",
        "run",
        str(rows),
        "--base-url",
        url,
        "--rate",
        f"{rate:g}",
        "--concurrency",
        str(concurrency),
        "--max-revocations",
        str(cap),
        "--report-dir",
        str(report_dir),
        "-q",
    ]


def report_counts(report_dir: Path) -> dict[str, int]:
    """Outcome counts from offboard's summary.json (empty if there is none)."""
    try:
        summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in summary.get("counts", {}).items() if v}


# -- reading the sandbox log ------------------------------------------------------------------


@dataclass(frozen=True)
class LogFigures:
    requests: int
    statuses: dict[int | None, int]
    deletes: int
    deletes_ok: int
    delete_span: float  # seconds from the first DELETE's arrival to the last one's
    span: float  # seconds from the first request's arrival to the last one's
    before_deletes: float  # seconds from the first request's arrival to the first DELETE's

    @property
    def delete_rate(self) -> float:
        """DELETE arrivals per second over the DELETE phase (steady state, no startup)."""
        return (self.deletes - 1) / self.delete_span if self.deletes > 1 and self.delete_span else 0

    @property
    def goodput(self) -> float:
        """Requests answered with anything but 429 per second, over the whole run's span."""
        good = sum(n for status, n in self.statuses.items() if status not in (429, None))
        return good / self.span if self.span else 0.0

    @property
    def share_429(self) -> float:
        return self.statuses.get(429, 0) / self.requests if self.requests else 0.0


def log_figures(records: list[dict[str, Any]]) -> LogFigures:
    times = [r["time"] for r in records]
    deletes = [r for r in records if r["method"] == "DELETE"]
    delete_times = [r["time"] for r in deletes]
    return LogFigures(
        requests=len(records),
        statuses=dict(Counter(r["status"] for r in records)),
        deletes=len(deletes),
        deletes_ok=sum(1 for r in deletes if r["status"] == 200),
        delete_span=max(delete_times) - min(delete_times) if delete_times else 0.0,
        span=max(times) - min(times) if times else 0.0,
        before_deletes=min(delete_times) - min(times) if delete_times else 0.0,
    )


# -- printing ---------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    say(line.format(*headers))
    say("  ".join("-" * w for w in widths))
    for row in rows:
        say(line.format(*row))


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def failure(m: Measured) -> str:
    """One line on why a client failed (exit code and last stderr line)."""
    last = [line for line in m.stderr.strip().splitlines() if line.strip()][-1:] or [""]
    return f"exit {m.returncode}: {last[0][:160]}"
