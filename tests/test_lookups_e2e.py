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

from .conftest import KEY, WORLD, world
from .helpers import run_two_rows

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
    transport = Waves()
    done = run_two_rows(sb.url, tmp_path, KEY, transport)
    assert done.exit_code == 0, done.problem
    sent = transport.sent
    assert waves(sent, "/iam/clients/me") == [1]
    assert waves(sent, USERS)[:2] == [2, 3]  # the first page, then the other two at once
    assert waves(sent, LOGINS) == [2]  # beside the list's first page, read once
    first_delete = min(wave for method, _, wave in sent if method == "DELETE")
    assert first_delete == 4
    assert sum(p == LOGINS for _, p, _ in sent) == 1


class HeldBody(httpx.AsyncByteStream):
    """clients/me's body, held back until the user list's first page has been asked (or
    HOLD scheduler turns have passed: a client that waits for the body then still gets it)."""

    def __init__(self, inner: httpx.Response, asked: list[str], log: list[str]) -> None:
        self.inner, self.asked, self.log = inner, asked, log

    async def __aiter__(self) -> Any:
        for _ in range(HOLD):
            if USERS in self.asked:
                break
            await anyio.lowlevel.checkpoint()
        self.log.append("me body" if USERS in self.asked else "me body, the list not asked")
        yield await self.inner.aread()

    async def aclose(self) -> None:
        await self.inner.aclose()


class HoldsTheKeysUser(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox whose clients/me answer (1.36 MB with 3,000 users) sends
    its head at once and its body only once the user list's first page is asked."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.asked: list[str] = []
        self.log: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        answer = await self.inner.handle_async_request(request)
        if request.url.path != "/iam/clients/me":
            return answer
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            stream=HeldBody(answer, self.asked, self.log),
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_list_is_asked_once_the_keys_user_answers_200_before_its_body(sandbox, tmp_path):
    """The user list's first page and the login log go out as soon as clients/me's head says
    200, while its body is still on its way (a key's account can be megabytes): the body
    then comes after the list was asked, and the run is as before."""
    sb = sandbox(world(users=[*WORLD["users"], *MEMBERS]))
    transport = HoldsTheKeysUser()
    done = run_two_rows(sb.url, tmp_path, KEY, transport)
    assert done.exit_code == 0, done.problem
    assert transport.log == ["me body"]
    assert transport.asked[:1] == ["/iam/clients/me"]
    assert sorted(transport.asked[1:3]) == [LOGINS, USERS]
    assert done.counts["revoked"] == 2


def test_a_rejected_key_costs_exactly_one_request(sandbox, tmp_path):
    """A 401 on clients/me: the list and the login log are never asked (nor anything else),
    though they now start on the head of clients/me's answer, not its body."""
    sb = sandbox(world(users=[*WORLD["users"], *MEMBERS]))
    done = run_two_rows(sb.url, tmp_path, "4242_wrong")
    assert done.exit_code == 3
    assert [(r.method, r.path) for r in sb.requests()] == [("GET", "/iam/clients/me")]


def test_a_200_without_a_usable_current_user_sends_no_delete(sandbox, tmp_path):
    """clients/me answers 200 (so the list is already asked) but its currentUser is no user
    ID: the run aborts before any DELETE, whatever the list said meanwhile."""
    sb = sandbox(world(users=[*WORLD["users"], *MEMBERS], faults={"current_user": 0}))
    done = run_two_rows(sb.url, tmp_path, KEY)
    assert done.exit_code == 3 and "which is not a user ID" in done.problem
    assert [r for r in sb.requests() if r.method == "DELETE"] == []


class BodyAfter(HoldsTheKeysUser):
    """As HoldsTheKeysUser, but the body is not held: it notes which requests were out when
    the client began to read clients/me's body."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(f"{request.url.path}?{request.url.query.decode()}")
        answer = await self.inner.handle_async_request(request)
        if request.url.path != "/iam/clients/me":
            return answer
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=Noted(answer, self.asked, self.log)
        )


class Noted(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.Response, asked: list[str], log: list[str]) -> None:
        self.inner, self.asked, self.log = inner, asked, log

    async def __aiter__(self) -> Any:
        self.log.extend(self.asked)
        yield await self.inner.aread()

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_keys_users_body_is_read_once_every_page_of_the_list_is_out(sandbox, tmp_path):
    """clients/me's body (megabytes to decode) is read only once the list's first page has
    answered and every later page has gone out: its decoding then goes beside their round
    trips, not in front of them."""
    sb = sandbox(world(users=[*WORLD["users"], *MEMBERS]))
    transport = BodyAfter()
    done = run_two_rows(sb.url, tmp_path, KEY, transport)
    assert done.exit_code == 0, done.problem
    pages = {q for q in transport.log if q.startswith(USERS + "?")}
    assert pages == {f"{USERS}?limit=100&offset={n}" for n in (0, 100, 200)}
