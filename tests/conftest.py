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
