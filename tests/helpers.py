"""Test seams shared by the unit tests: a fake clock and scripted HTTP transports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import httpx

from offboard.core.settings import Secret, Settings

if TYPE_CHECKING:
    from offboard.core.job import JobReport


class FakeClock:
    """Virtual time: sleeping advances it at once and records how long."""

    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await anyio.lowlevel.checkpoint()


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "base_url": "https://api.example.test",
        "api_key": Secret("42_s3cr3tvalue"),
        "rate": 1000.0,
        "concurrency": 4,
        "max_attempts": 5,
        "timeout": 5.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


Reply = httpx.Response | Exception


def scripted(
    replies: Iterable[Reply], seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    """A transport that answers each request with the next reply (or raises it)."""
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return httpx.MockTransport(handler)


def routed(
    route: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return route(request)

    return httpx.MockTransport(handler)


def drain(terminal: int) -> bytes:
    """Everything a pseudo-terminal's main side reads until the program on it has finished
    (the read fails, or returns nothing, once the last process holding it exits); closes it."""
    seen = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the terminal closed: the process has finished
            break
        if not chunk:
            break
        seen += chunk
    os.close(terminal)
    return seen


def run_two_rows(
    url: str, tmp_path: Path, key: str, transport: httpx.AsyncBaseTransport | None = None
) -> JobReport:
    """`offboard run` in-process, in virtual time, on rows (10, 101) and (10, 102) against
    `url` (through `transport` when given), its report under tmp_path/r."""
    from offboard.core.job import Job, Seams
    from offboard.job.run import run_one

    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    job = Job(str(source), base_url=url, report_dir=str(tmp_path / "r"), yes=True, verbosity=-1)
    return run_one(
        job, Seams(environ={"GCORE_API_KEY": key}, transport=transport, clock=FakeClock())
    )
