"""Fixtures for end-to-end tests: a sandbox over loopback and the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from offboard.sandbox import Sandbox, load_world

from .forkserver import ForkServer

# The tests that take longest on the wall clock (a 2-core run, `--durations`), longest first:
# most wait on a server's pacing or a 429 storm, some run benchmarks or a printer. Started last,
# they were the run's tail, one worker waiting while the others had finished; each now starts
# first on its worker (longest-first spreads the work evenly). Only the order changes. (Tests
# that share a module-scoped fixture stay out: moved away from their module, each would build it
# once more.)
LONGEST_FIRST = (
    "tests/test_faults_e2e.py::test_429_storm_with_retry_after",
    "tests/test_benchmarks_smoke.py::test_quick_benchmark_runs_every_section[compare]",
    "tests/test_benchmarks_smoke.py::test_quick_benchmark_runs_every_section[rates,adaptive]",
    "tests/test_benchmarks_smoke.py::test_quick_benchmark_runs_every_section[startup,ceiling]",
    "tests/test_report_paper.py::test_the_demo_report_prints_on_one_a4_page",
    "tests/test_rate_sim.py::test_cell_figures[none seconds L=200 rate=10000 c=64 rtt=5ms]",
    "tests/test_unfinished_runs.py::test_without_report_dir_an_unfinished_run_blocks_a_fresh_one",
    "tests/test_seams_e2e.py::test_pasted_hints_run_as_printed",
    "tests/test_report_paper.py::test_a_demo_sized_page_with_people_prints_on_one_a4_page",
    "tests/test_benchmarks_smoke.py::test_quick_benchmark_runs_every_section[shapes]",
    "tests/test_faults_e2e.py::test_a_server_answering_429_to_everything_ends_the_run",
    "tests/test_rate_sim.py::test_the_controller_beats_the_one_before_it",
)


def _rank(item: pytest.Item) -> int:
    """The place of the item in LONGEST_FIRST (a prefix of its node ID), else its length."""
    return next(
        (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
        len(LONGEST_FIRST),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each of LONGEST_FIRST at the head of a worker's share, in turn.

    pytest-xdist's `worksteal` gives worker k the k-th contiguous slice of the collection (sizes
    as computed below) and steals from the slices' ends, so the head of a slice runs first.
    Without xdist the long tests simply run first. The order is the same in every worker, as
    xdist requires."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    ranked = sorted((item for item in items if _rank(item) < len(LONGEST_FIRST)), key=_rank)
    rest = [item for item in items if _rank(item) == len(LONGEST_FIRST)]
    sizes: list[int] = []
    for k in range(workers):
        sizes.append((len(items) - sum(sizes)) // (workers - k))
    heads = [ranked[k::workers] for k in range(workers)]
    if any(len(head) > size for head, size in zip(heads, sizes, strict=True)):
        items[:] = ranked + rest  # a run too small to share out
        return
    ordered: list[pytest.Item] = []
    for head, size in zip(heads, sizes, strict=True):
        taken = size - len(head)
        ordered += head + rest[:taken]
        del rest[:taken]
    items[:] = ordered


KEY = "4242_c0ffee5ecretd00d"

# A small world: the key's user (1) administers accounts 10 and 20, not 30.
WORLD: dict[str, Any] = {
    "api_key": KEY,
    "account": 10,
    "key_user": 1,
    "accounts": [
        {"id": 10, "name": "Ten"},
        {"id": 20, "name": "Twenty"},
        {"id": 30, "name": "Thirty"},
    ],
    "users": [
        {
            "id": 1,
            "email": "admin@t.example",
            "roles": {10: "Administrators", 20: "Administrators"},
        },
        {"id": 101, "email": "ann@t.example", "roles": {10: "Users", 20: "Users"}},
        {"id": 102, "email": "Bob@T.example", "roles": {10: "Users"}},
        {
            "id": 103,
            "email": "cy@t.example",
            "roles": {10: "Engineers"},
            "tokens": [{"id": 900, "account": 10, "name": "ci"}],
        },
        {"id": 104, "email": "di@t.example", "roles": {30: "Users"}},
        {"id": 105, "email": "ed@t.example", "roles": {10: "Users"}},
        {"id": 106, "email": "flo@t.example", "roles": {10: "Users"}},
    ],
}


def world(**changes: Any) -> dict[str, Any]:
    """The test world with some top-level keys replaced (faults=..., users=...)."""
    return {**WORLD, **changes}


class StartSandbox(Protocol):
    """The `sandbox` fixture: starts a sandbox on a world (WORLD when none is given)."""

    def __call__(self, mapping: dict[str, Any] | None = None) -> Sandbox: ...


# Sandboxes still stopping after their test (see `sandbox`); the session waits for them.
_STOPPING: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _sandboxes_stopped() -> Iterator[None]:
    yield
    for thread in _STOPPING:
        thread.join()


@pytest.fixture
def sandbox() -> Iterator[StartSandbox]:
    """Start sandboxes on ephemeral loopback ports; all are stopped after the test.

    Stopping one takes uvicorn about 0.2 s of waiting (its main loop's 0.1 s ticks): the
    test's sandboxes stop together in the background, so the next test need not wait. Each
    test's sandboxes are its own (their own ports and state), so nothing carries over."""
    started: list[Sandbox] = []

    def start(mapping: dict[str, Any] | None = None) -> Sandbox:
        sb = Sandbox(load_world(mapping or WORLD, origin="test"), port=0)
        sb.start()
        started.append(sb)
        return sb

    try:
        yield start
    finally:
        for sb in started:
            thread = threading.Thread(target=sb.stop, name="stopping a test's sandbox")
            thread.start()
            _STOPPING.append(thread)


def base_environ() -> dict[str, str]:
    """The environment every CLI call starts from: none of the caller's Gcore settings."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("GCORE_") and k != "OFFBOARD_DEBUG"
    }


class Cli:
    """Runs `python -m offboard` for real, in a work directory: in its own process, forked
    from the worker's fork server (tests/forkserver.py) when there is one, else a subprocess."""

    def __init__(self, cwd: Path, forks: ForkServer | None = None) -> None:
        self.cwd = cwd
        self.forks = forks

    def __call__(
        self,
        *args: str,
        key: str | None = KEY,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        environ = base_environ()
        if key is not None:
            environ["GCORE_API_KEY"] = key
        environ.update(env or {})
        if self.forks is not None and self.forks.fits(environ):
            done = self.forks.run(list(args), self.cwd, environ, stdin, timeout)
            if done is not None:
                return done
        return subprocess.run(
            [sys.executable, "-m", "offboard", *args],
            cwd=self.cwd,
            env=environ,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def write(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def forks() -> Iterator[ForkServer | None]:
    """The worker's fork server for CLI calls, started on its first call (none when
    OFFBOARD_TEST_SUBPROCESS is set: every call a fresh `python -m offboard`, to compare)."""
    if os.environ.get("OFFBOARD_TEST_SUBPROCESS"):
        yield None
        return
    server = ForkServer(base_environ())
    yield server
    server.stop()


@pytest.fixture
def cli(tmp_path: Path, forks: ForkServer | None) -> Cli:
    return Cli(tmp_path, forks)
