"""Smaller truths (issue 10, point 10): a busy sandbox port names the port and the option to
change it; an API that cannot say which user the key belongs to stops the run before any DELETE.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from offboard.cli.serve_sandbox import port_problem
from offboard.http.api import Api, DirectoryError, make_client
from offboard.sandbox import PortUnavailable, Sandbox, SandboxError, load_world

from .conftest import Cli, StartSandbox, world
from .helpers import FakeClock, routed, settings
from .test_run_e2e import results


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port this test holds bound and listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_busy_sandbox_port_is_one_line_naming_the_port_and_the_option(busy_port: int) -> None:
    """`offboard sandbox --port N` on a taken port: exit 2, one stderr line naming the port and
    --port, no traceback, nothing served."""
    done = subprocess.run(
        [sys.executable, "-m", "offboard", "sandbox", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert str(busy_port) in lines[0] and "--port" in lines[0] and "in use" in lines[0]
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "listening" not in done.stdout


def test_a_port_the_os_refuses_names_the_reason_and_the_option() -> None:
    """A bind refused for another reason than "in use" still names the port, the OS's reason
    and --port."""
    line = port_problem(PortUnavailable("127.0.0.1", 80, "Permission denied", in_use=False))
    assert line == (
        "port 80 on 127.0.0.1 cannot be used (Permission denied): choose another "
        "with --port N (--port 0 picks a free one)"
    )


def test_a_busy_port_is_still_a_sandbox_error(busy_port: int) -> None:
    """PortUnavailable is a SandboxError that knows the port and that it is in use."""
    with pytest.raises(PortUnavailable) as caught:
        Sandbox(load_world(world(), origin="test"), port=busy_port).start()
    assert isinstance(caught.value, SandboxError)
    assert (caught.value.port, caught.value.in_use) == (busy_port, True)


# -- /iam/clients/me currentUser -------------------------------------------------------------


def whoami(current_user: Any) -> tuple[int | None, str, list[httpx.Request]]:
    """Api.whoami against an API whose clients/me says `currentUser: current_user`:
    (the user ID, or None when it raised) and the DirectoryError message."""
    seen: list[httpx.Request] = []
    body = {"id": 10, "currentUser": current_user}
    transport = routed(lambda request: httpx.Response(200, json=body), seen)
    config = settings()

    async def go() -> tuple[int | None, str]:
        async with make_client(config, transport) as client:
            api = Api(config, client, FakeClock(), random.Random(1))
            try:
                return await api.whoami(), ""
            except DirectoryError as exc:
                return None, str(exc)

    user_id, message = anyio.run(go)
    return user_id, message, seen


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "currentUser 0"),
        (-5, "currentUser -5"),
        (True, "currentUser true"),
        ("7", 'currentUser "7"'),
        (None, "no currentUser"),
        (7.0, "currentUser 7.0"),
    ],
)
def test_whoami_refuses_a_current_user_that_is_not_a_user_id(value: Any, shown: str) -> None:
    """0, a negative, a bool, text, null or a float as currentUser is unknown: DirectoryError
    naming the endpoint and the value, never a user ID the guard would then trust."""
    user_id, message, seen = whoami(value)
    assert user_id is None
    assert message == f"/iam/clients/me gave {shown}, which is not a user ID"
    assert [(r.method, r.url.path) for r in seen] == [("GET", "/iam/clients/me")]


def test_whoami_accepts_a_positive_user_id() -> None:
    """A positive integer currentUser is the key's user."""
    assert whoami(7)[:2] == (7, "")


def test_the_sandbox_can_misreport_current_user(sandbox: StartSandbox) -> None:
    """The `current_user` fault changes only clients/me's currentUser; the world is unchanged."""
    sb = sandbox(world(faults={"current_user": -5}))
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"APIKey {sb.api_key}"}) as c:
        me = c.get("/iam/clients/me")
        users = c.get("/iam/users", params={"limit": 100}).json()["results"]
    assert me.status_code == 200 and me.json()["currentUser"] == -5
    assert me.json()["id"] == 10 and 1 in {u["id"] for u in users}


def test_the_current_user_fault_must_be_an_integer() -> None:
    """`current_user: "0"` in a scenario is a one-line error naming the key."""
    with pytest.raises(SandboxError, match=r"faults\.current_user: expected an integer"):
        load_world(world(faults={"current_user": "0"}), origin="test")


@pytest.mark.parametrize("current_user", [0, -5])
def test_a_run_whose_key_user_is_unknown_sends_no_delete(
    cli: Cli, sandbox: StartSandbox, current_user: int
) -> None:
    """clients/me answering currentUser 0 or negative: exit 3, no DELETE sent (only the reads
    its 200 let start: the list and the login log), every row not_attempted, and the cause
    on stderr (JSON log) and in the text output."""
    sb = sandbox(world(faults={"current_user": current_user}))
    cli.write("l.csv", "account,user\n10,101\n10,1\n20,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o", "--log-format", "json")
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    asked = [(r.method, r.path) for r in sb.requests()]
    assert asked[0] == ("GET", "/iam/clients/me")
    assert {path for method, path in asked if method == "GET"} <= {
        "/iam/clients/me",
        "/iam/users",
        "/iam/activity_log/logins",
    }
    assert {method for method, _ in asked} == {"GET"}  # reads only, and no DELETE
    assert sb.has_access(10, 101) and sb.has_access(10, 1) and sb.has_access(20, 101)
    assert {r["outcome"] for r in results(cli.cwd / "o")} == {"not_attempted"}
    cause = f"currentUser {current_user}, which is not a user ID"
    lines = done.stderr.splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines), done.stderr
    assert any(cause in line for line in lines), done.stderr
    text = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert text.returncode == 3 and "DELETE" not in {r.method for r in sb.requests()}
    # Today the text summary goes to stdout; issue 10 point 4 moves failure lines to stderr.
    assert cause in text.stdout + text.stderr


def test_the_stderr_line_counts_rows_in_good_english(cli: Cli, sandbox: StartSandbox) -> None:
    """'1 row needs a person', '2 rows need a person': the line cron mails is read by people."""
    sb = sandbox()
    cli.write("one.csv", "account,user\n30,104\n")
    one = cli("run", "one.csv", "--base-url", sb.url, "-q", "--report-dir", "a")
    assert one.returncode == 1 and "one.csv: 1 row needs a person (1 forbidden)" in one.stderr
    cli.write("two.csv", "account,user\n30,104\nx,1\n")
    two = cli("run", "two.csv", "--base-url", sb.url, "-q", "--report-dir", "b")
    assert two.returncode == 1 and "two.csv: 2 rows need a person (" in two.stderr
