"""The look-ups before the first DELETE (issue 22): the key's user, then the user list's pages
and the login log's first page side by side, through the real session over loopback against
the sandbox.

Time is counted in round trips ("waves"), not seconds: a request's wave is one more than the
highest wave among the answers the client had seen when it sent it. A GET's answer is held
for HOLD scheduler turns before the client sees it, so requests the client sends together all
go out before any of their answers is seen. The rate limiter runs on a FakeClock: its start
pacing (offboard/rate/, measured apart) takes no turn here.
"""

from __future__ import annotations

from typing import Any

import anyio.lowlevel
import httpx

from offboard.core.job import Job, Seams
from offboard.job.run import run_one

from .conftest import KEY, WORLD, world
from .helpers import FakeClock

HOLD = 500  # scheduler turns a GET's answer is held: far more than sending a request takes
LOGINS = "/iam/activity_log/logins"
USERS = "/iam/users"
MEMBERS = [{"id": 500 + n, "email": f"m{n}@t.example", "roles": {10: "Users"}} for n in range(250)]


class Waves(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox, recording (method, path, wave) per request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen = 0  # the highest wave among the answers handed back so far
        self.sent: list[tuple[str, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        wave = self.seen + 1
        self.sent.append((request.method, request.url.path, wave))
        answer = await self.inner.handle_async_request(request)
        await answer.aread()
        if request.method == "GET":
            for _ in range(HOLD):
                await anyio.lowlevel.checkpoint()
        self.seen = max(self.seen, wave)
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


def waves(sent: list[tuple[str, str, int]], path: str) -> list[int]:
    return sorted({wave for _, p, wave in sent if p == path})


def test_the_login_log_is_read_beside_the_user_list(sandbox, tmp_path):
    """Three pages of users and a login log: the log's first page goes out with the list's
    first page, so the first DELETE waits the key's user, the list's two round trips and
    nothing more (wave 4, not 5); the run's outcome is unchanged."""
    users: list[dict[str, Any]] = [dict(u) for u in WORLD["users"]]
    users[1]["logins"] = [{"at": "2025-01-05T10:00:00Z", "account": 10}]  # ann, long ago
    sb = sandbox(world(users=[*users, *MEMBERS]))
    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    transport = Waves()
    job = Job(str(source), base_url=sb.url, report_dir=str(tmp_path / "r"), yes=True, verbosity=-1)
    done = run_one(
        job, Seams(environ={"GCORE_API_KEY": KEY}, transport=transport, clock=FakeClock())
    )
    assert done.exit_code == 0, done.problem
    sent = transport.sent
    assert waves(sent, "/iam/clients/me") == [1]
    assert waves(sent, USERS)[:2] == [2, 3]  # the first page, then the other two at once
    assert waves(sent, LOGINS) == [2]  # beside the list's first page, read once
    first_delete = min(wave for method, _, wave in sent if method == "DELETE")
    assert first_delete == 4
    assert sum(p == LOGINS for _, p, _ in sent) == 1
