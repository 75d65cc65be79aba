"""The read faults: membership reads that lag behind revokes (read_lag) or never show them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from offboard.sandbox import Sandbox, SandboxError, State, World, load_world

ONE, TWO = 1, 2
LAG = 0.3


def reads_world(**faults: Any) -> World:
    """An admin (1); user 2 in both accounts; users 3 and 4 only in account 1 (a revoke deletes
    them)."""
    return load_world(
        {
            "api_key": "7_0a1b2c3d",
            "account": ONE,
            "key_user": 1,
            "accounts": [{"id": ONE, "name": "One"}, {"id": TWO, "name": "Two"}],
            "users": [
                {"id": 1, "email": "admin@x.example", "roles": {ONE: "Administrators",
                                                                TWO: "Administrators"}},
                {"id": 2, "email": "two@x.example", "roles": {ONE: "Users", TWO: "Engineers"}},
                {"id": 3, "email": "three@x.example", "roles": {ONE: "Engineers"}},
                {"id": 4, "email": "four@x.example", "roles": {ONE: "Users"}},
            ],
            "faults": faults,
        },
        origin="test",
    )  # fmt: skip


class FakeClock:
    """A clock the test moves by hand, for the state's removal times."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.url, headers={"Authorization": f"APIKey {sb.api_key}"},
                        timeout=5.0)  # fmt: skip


def listing(c: httpx.Client) -> dict[int, dict[str, Any]]:
    """Every user of the paginated GET /iam/users, by id, read two a page as a client would."""
    users: dict[int, dict[str, Any]] = {}
    offset = 0
    while True:
        page = c.get("/iam/users", params={"limit": 2, "offset": offset})
        assert page.status_code == 200
        body = page.json()
        users.update((user["id"], user) for user in body["results"])
        if "next" not in body:
            return users
        offset += len(body["results"])


def listed_in(c: httpx.Client, account: int, user: int) -> bool:
    """Whether the listing shows `user` with `account` in their client_and_roles."""
    found = listing(c).get(user)
    return found is not None and account in {e["client_id"] for e in found["client_and_roles"]}


def member(c: httpx.Client, account: int, user: int) -> int:
    return c.get(f"/iam/clients/{account}/client-users/{user}").status_code


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_without_read_faults_reads_show_a_revoke_at_once() -> None:
    """With no read fault, the GET right after a revoke is 404 and the listing drops the account."""
    with Sandbox(reads_world()) as sb, client(sb) as c:
        assert c.delete("/iam/clients/1/client-users/2").status_code == 200
        assert c.delete("/iam/clients/1/client-users/3").status_code == 200
        assert member(c, ONE, 2) == 404 and member(c, ONE, 3) == 404
        users = listing(c)
    assert [e["client_id"] for e in users[2]["client_and_roles"]] == [TWO]
    assert 3 not in users


def test_read_lag_shows_a_revoke_until_the_lag_has_passed() -> None:
    """Under read_lag, reads show the revoked membership (old group) until the lag has passed,
    then 404 and absent; writes see the truth throughout (a second DELETE is 404)."""
    with Sandbox(reads_world(read_lag=LAG)) as sb, client(sb) as c:
        before = time.monotonic()
        assert c.delete("/iam/clients/1/client-users/2").status_code == 200
        assert c.delete("/iam/clients/1/client-users/3").status_code == 200
        role = c.get("/iam/clients/1/client-users/2")
        assert (role.status_code, role.json()) == (200, {"user_role": {"id": 2, "name": "Users"}})
        assert member(c, ONE, 3) == 200
        assert listed_in(c, ONE, 2) and listed_in(c, ONE, 3)
        assert c.delete("/iam/clients/1/client-users/2").status_code == 404
        assert not sb.has_access(ONE, 2) and not sb.user_exists(3)
        assert wait_until(lambda: member(c, ONE, 2) == 404 and member(c, ONE, 3) == 404)
        assert time.monotonic() - before >= LAG
        users = listing(c)
    assert [e["client_id"] for e in users[2]["client_and_roles"]] == [TWO]
    assert 3 not in users


@pytest.mark.parametrize("faults", [{"read_lag": LAG}, {"read_lie": True}, {"read_lie": [3]}])
def test_a_deleted_user_is_still_listed_under_lag_or_lie(faults: dict[str, Any]) -> None:
    """A user deleted by the revoke of their last account stays in both listing forms, with
    that account and its old group, and their membership GET is still 200."""
    with Sandbox(reads_world(**faults)) as sb, client(sb) as c:
        assert c.delete("/iam/clients/1/client-users/3").status_code == 200
        paged = listing(c).get(3)
        plain = {user["id"]: user for user in c.get("/iam/users").json()}.get(3)
        role = c.get("/iam/clients/1/client-users/3").json()
        assert not sb.user_exists(3)
    assert paged is not None and paged == plain
    assert paged["email"] == "three@x.example" and paged["deleted"] is False
    assert paged["client_and_roles"] == [
        {"client_id": ONE, "client_company_name": "One", "user_id": 3, "user_roles": ["5"]}
    ]
    assert role == {"user_role": {"id": 5, "name": "Engineers"}}


def test_read_lie_never_shows_a_removal() -> None:
    """Under read_lie, reads show revoked memberships a day later still; a second DELETE is 404,
    and /iam/clients/me (not a membership read) tells the truth."""
    world = reads_world(read_lie=True)
    clock = FakeClock()
    with Sandbox(world, state=State(world, clock=clock)) as sb, client(sb) as c:
        assert c.delete("/iam/clients/1/client-users/2").status_code == 200
        assert c.delete("/iam/clients/1/client-users/3").status_code == 200
        clock.now += 86_400
        assert member(c, ONE, 2) == 200 and member(c, ONE, 3) == 200
        assert listed_in(c, ONE, 2) and listed_in(c, ONE, 3)
        again = c.delete("/iam/clients/1/client-users/2")
        me = c.get("/iam/clients/me").json()
    assert again.status_code == 404
    assert not sb.has_access(ONE, 2) and not sb.user_exists(3)
    assert {user["id"] for user in me["users"]} == {1, 4}


def test_read_lie_list_lies_only_about_the_listed_users() -> None:
    """read_lie [2, 3] shows the removals of users 2 and 3 but not of user 4, in both reads."""
    with Sandbox(reads_world(read_lie=[2, 3])) as sb, client(sb) as c:
        for user in (2, 3, 4):
            assert c.delete(f"/iam/clients/1/client-users/{user}").status_code == 200
        statuses = {user: member(c, ONE, user) for user in (2, 3, 4)}
        users = listing(c)
        assert not any(sb.has_access(ONE, user) for user in (2, 3, 4))
    assert statuses == {2: 200, 3: 200, 4: 404}
    assert [e["client_id"] for e in users[2]["client_and_roles"]] == [ONE, TWO]
    assert 3 in users and 4 not in users


def test_state_page_records_each_removal() -> None:
    """/_sandbox/state lists each removal with its old group, whether the user was deleted, and
    whether reads still show it."""
    world = reads_world(read_lag=60)
    clock = FakeClock()
    with Sandbox(world, state=State(world, clock=clock)) as sb, client(sb) as c:
        c.delete("/iam/clients/1/client-users/2")
        c.delete("/iam/clients/1/client-users/3")
        shown = c.get("/_sandbox/state").json()["removals"]
        clock.now += 60
        after = c.get("/_sandbox/state").json()["removals"]
    assert shown == [
        {"account": ONE, "user": 2, "role": "Users", "user_deleted": False,
         "reads_still_show": True},
        {"account": ONE, "user": 3, "role": "Engineers", "user_deleted": True,
         "reads_still_show": True},
    ]  # fmt: skip
    assert [r["reads_still_show"] for r in after] == [False, False]


def test_read_faults_load_from_yaml() -> None:
    """`read_lag: 0.5` and `read_lie: [2, 4]` (or `true`) in a scenario's YAML become the faults."""
    listed = yaml.safe_load("read_lag: 0.5\nread_lie: [2, 4]")
    assert reads_world(**listed).faults.read_lie == frozenset({2, 4})
    assert reads_world(**listed).faults.read_lag == 0.5
    assert reads_world(**yaml.safe_load("read_lie: true")).faults.read_lie is True
    assert reads_world().faults.read_lie is False and reads_world().faults.read_lag == 0.0


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ({"read_lag": -1}, "test: faults.read_lag: must be >= 0, got -1"),
        ({"read_lag": "0.3"}, "test: faults.read_lag: expected a number, got str '0.3'"),
        ({"read_lag": math.nan}, "test: faults.read_lag: expected a number, got nan"),
        ({"read_lag": True}, "test: faults.read_lag: expected a number, got bool True"),
        ({"read_lie": "yes"},
         "test: faults.read_lie: expected true, false or a list of user ids, got str 'yes'"),
        ({"read_lie": 1},
         "test: faults.read_lie: expected true, false or a list of user ids, got int 1"),
        ({"read_lie": {2: True}}, "test: faults.read_lie: expected true, false or a list"),
        ({"read_lie": [True]}, "test: faults.read_lie[0]: expected an integer, got bool True"),
        ({"read_lie": [2, 99]}, "test: faults.read_lie[1]: 99 is not listed under users"),
        ({"read_lie": [2, 2]}, "test: faults.read_lie[1]: duplicate user id 2"),
        ({"read_leg": 1}, "test: faults.read_leg: unknown key"),
    ],
)  # fmt: skip
def test_bad_read_faults_are_refused(faults: dict[str, Any], expected: str) -> None:
    """A negative or non-number read_lag, or a read_lie that is neither a bool nor a list of
    known user ids, is a one-line SandboxError naming the field."""
    with pytest.raises(SandboxError) as caught:
        reads_world(**faults)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def listed_ids(state: State) -> dict[int, tuple[int, ...]]:
    """The state's listing view: each listed user's accounts."""
    return {m.user.id: tuple(a for a, _ in m.roles) for m in state.visible_users()}


def test_a_listing_read_again_after_a_change_shows_the_change() -> None:
    """The listing is computed once per change, not per page: a revoke or an invite between two
    reads shows in the second, and the pages of one unchanged listing cost one pass."""
    clock = FakeClock()
    state = State(reads_world(), clock=clock)
    assert listed_ids(state) == {1: (ONE, TWO), 2: (ONE, TWO), 3: (ONE,), 4: (ONE,)}
    assert state.revoke(ONE, 3).name == "REVOKED"
    assert listed_ids(state) == {1: (ONE, TWO), 2: (ONE, TWO), 4: (ONE,)}
    state.invite(TWO, "four@x.example", "Users", None, "en")
    assert listed_ids(state)[4] == (ONE, TWO)
    passes = 0
    shown_roles = state._shown_roles

    def counted(user: int, now: float) -> dict[int, str]:
        nonlocal passes
        passes += 1
        return shown_roles(user, now)

    state._shown_roles = counted  # type: ignore[method-assign]
    for _ in range(5):
        state.visible_users()
    assert passes == 0  # unchanged since the last read: nothing recomputed
    state.revoke(TWO, 2)
    state.visible_users()
    state.visible_users()
    assert passes == 4  # one pass over the four users after the change


def test_under_read_lag_the_listing_follows_the_clock() -> None:
    """With read_lag, a listing read again after the lag has passed no longer shows the removal
    (nothing is kept between reads when the answer depends on the time)."""
    clock = FakeClock()
    state = State(reads_world(read_lag=LAG), clock=clock)
    state.revoke(ONE, 3)
    assert 3 in listed_ids(state)
    clock.now += LAG * 1.1
    assert 3 not in listed_ids(state)
