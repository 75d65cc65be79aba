"""GET /iam/activity_log/logins in the sandbox, and the world file's login history."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from offboard.sandbox import Sandbox, SandboxError, load_world

LOGINS = "/iam/activity_log/logins"
FORBIDDEN = {"message": "You do not have permission to perform this action."}


def world(**top: Any) -> dict[str, Any]:
    """The key's user (1) administers 10 and 20; 2 and 3 have logins into 10, one into 20."""
    return {
        "api_key": "9_logins",
        "account": 10,
        "key_user": 1,
        "accounts": [{"id": 10, "name": "Ten"}, {"id": 20, "name": "Twenty"}],
        "users": [
            {
                "id": 1,
                "email": "admin@t.example",
                "roles": {10: "Administrators", 20: "Administrators"},
            },
            {
                "id": 2,
                "email": "two@t.example",
                "roles": {10: "Users"},
                "logins": [
                    {"at": "2026-11-01T08:00:00Z", "account": 10},
                    {
                        "at": "2026-11-30T09:00:00+01:00",
                        "account": 10,
                        "ip": "2001:db8::7",
                        "user_agent": "curl/8.5",
                        "successful": False,
                        "auth_type": "sso",
                    },
                    {"at": "2026-11-29T12:00:00Z", "account": 20},
                ],
            },
            {
                "id": 3,
                "email": "three@t.example",
                "roles": {10: "Users", 20: "Users"},
                "logins": [
                    {"at": "2026-11-30T08:00:00Z", "account": 10},
                    {"at": "2026-11-15T10:30:00.250000Z", "account": 10},
                ],
            },
        ],
        **top,
    }


def start(mapping: dict[str, Any]) -> Sandbox:
    return Sandbox(load_world(mapping, origin="test"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with start(world()) as sandbox:
        yield sandbox


def get(sandbox: Sandbox, **params: Any) -> httpx.Response:
    return httpx.get(
        sandbox.url + LOGINS, params=params, headers={"Authorization": f"APIKey {sandbox.api_key}"}
    )


def test_the_key_accounts_logins_newest_first_in_the_spec_shape(sb: Sandbox) -> None:
    """Only logins into the key's account (10), newest first whatever zone they were written
    in (equal times by user id), each a LastLoginTimeItem whose `id` is the account id."""
    body = get(sb).json()
    assert body["count"] == 4 and "next" not in body and "previous" not in body
    result = body["result"]
    assert [(i["user"], i["login_at"]) for i in result] == [
        (2, "2026-11-30T08:00:00Z"),  # written 09:00+01:00
        (3, "2026-11-30T08:00:00Z"),
        (3, "2026-11-15T10:30:00.250000Z"),
        (2, "2026-11-01T08:00:00Z"),
    ]
    assert result[0] == {
        "id": 10,
        "login_at": "2026-11-30T08:00:00Z",
        "ip_address": "2001:db8::7",
        "user_agent": "curl/8.5",
        "is_successful": False,
        "auth_type": "sso",
        "user": 2,
    }
    assert result[-1]["ip_address"] == "192.0.2.1" and result[-1]["is_successful"] is True
    assert result[-1]["auth_type"] == "password" and result[-1]["user_agent"]


def test_pages_follow_limit_and_offset_with_next_and_previous(sb: Sandbox) -> None:
    """limit/offset slice the same order; next/previous are the spec's example URLs, left out
    at the ends; following `next` from the first page yields every login exactly once."""
    everything = get(sb).json()["result"]
    first = get(sb, limit=3).json()
    assert first["count"] == 4 and first["result"] == everything[:3]
    assert first["next"] == "/activity_log/logins?offset=3&limit=3" and "previous" not in first
    last = get(sb, limit=3, offset=3).json()
    assert last["result"] == everything[3:] and "next" not in last
    assert last["previous"] == "/activity_log/logins?offset=0&limit=3"
    middle = get(sb, limit=1, offset=2).json()
    assert middle["next"] == "/activity_log/logins?offset=3&limit=1"
    assert middle["previous"] == "/activity_log/logins?offset=1&limit=1"
    walked, query = [], {"limit": 1, "offset": 0}
    while True:
        page = get(sb, **query).json()
        walked += page["result"]
        if "next" not in page:
            break
        query = dict(part.split("=") for part in page["next"].split("?")[1].split("&"))
    assert walked == everything
    assert get(sb, limit=10, offset=10).json() == {
        "count": 4,
        "previous": "/activity_log/logins?offset=0&limit=10",
        "result": [],
    }


@pytest.mark.parametrize(
    "params", [{"limit": "ten"}, {"limit": 0}, {"offset": -1}, {"offset": "x", "limit": 2}]
)
def test_bad_limit_or_offset_is_400(sb: Sandbox, params: dict[str, Any]) -> None:
    """A limit that is not a positive integer, or an offset below 0, is 400 with a message."""
    answer = get(sb, **params)
    assert answer.status_code == 400
    assert next(iter(params)) in answer.json()["message"]


def test_page_size_max_caps_login_pages() -> None:
    """The server's page cap applies here as on /iam/users: `next` says the capped limit."""
    with start(world(faults={"page_size_max": 2})) as sandbox:
        body = get(sandbox, limit=50).json()
        assert len(body["result"]) == 2 and body["next"] == "/activity_log/logins?offset=2&limit=2"
        assert len(get(sandbox).json()["result"]) == 2


def test_the_history_outlives_revokes_and_is_not_a_membership_read() -> None:
    """A user deleted by a revoke keeps their logins in the log; an invited user has none."""
    with start(world()) as sandbox:
        headers = {"Authorization": f"APIKey {sandbox.api_key}"}
        assert (
            httpx.delete(
                sandbox.url + "/iam/clients/10/client-users/2", headers=headers
            ).status_code
            == 200
        )
        assert not sandbox.user_exists(2)
        invited = httpx.post(
            sandbox.url + "/iam/clients/invite_user",
            headers=headers,
            json={"email": "two@t.example", "user_role": {"id": 2}, "client_id": 10},
        )
        assert invited.json()["user_id"] == 4
        users = [item["user"] for item in get(sandbox).json()["result"]]
        assert users == [2, 3, 3, 2]


@pytest.mark.parametrize(
    ("flag", "status", "body"),
    [("forbidden", 403, FORBIDDEN), ("not_found", 404, {"message": "Not found."})],
)
def test_the_activity_log_flag_answers_403_or_404(
    flag: str, status: int, body: dict[str, str]
) -> None:
    """`activity_log: forbidden` (or `not_found`) makes the endpoint refuse the key, so a client
    can test its "no permission: last login unknown" path; other endpoints are unaffected."""
    with start(world(activity_log=flag)) as sandbox:
        answer = get(sandbox, limit=10)
        assert answer.status_code == status and answer.json() == body
        me = httpx.get(
            sandbox.url + "/iam/clients/me", headers={"Authorization": f"APIKey {sandbox.api_key}"}
        )
        assert me.status_code == 200


def test_a_key_that_does_not_administer_its_account_is_403() -> None:
    """The log is account-wide, so, like revokes, it needs an administrator of that account."""
    mapping = world()
    mapping["users"][0]["roles"] = {10: "Users", 20: "Administrators"}
    with start(mapping) as sandbox:
        assert get(sandbox).status_code == 403


def test_no_key_is_401_and_post_is_405(sb: Sandbox) -> None:
    """Auth applies as for every API request; only GET is routed."""
    assert httpx.get(sb.url + LOGINS).status_code == 401
    wrong = httpx.post(sb.url + LOGINS, headers={"Authorization": f"APIKey {sb.api_key}"})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"


def test_yaml_timestamps_load_as_written() -> None:
    """Unquoted YAML timestamps (which PyYAML turns into datetimes) work like strings."""
    text = """
account: 10
key_user: 1
accounts: [{id: 10, name: Ten}]
users:
  - id: 1
    email: admin@t.example
    roles: {10: Administrators}
    logins:
      - {at: 2026-11-30T09:00:00Z, account: 10}
      - {at: 2026-12-01 07:15:00+02:00, account: 10, successful: false}
activity_log: allowed
"""
    with Sandbox(load_world(yaml.safe_load(text), origin="w.yaml")) as sandbox:
        times = [item["login_at"] for item in get(sandbox).json()["result"]]
    assert times == ["2026-12-01T05:15:00Z", "2026-11-30T09:00:00Z"]


def with_login(login: Any) -> dict[str, Any]:
    mapping = copy.deepcopy(world())
    mapping["users"][1]["logins"] = [login]
    return mapping


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (with_login({"account": 10}), "test: users[1].logins[0].at: required key is missing"),
        (
            with_login({"at": "2026-11-30T09:00:00Z"}),
            "test: users[1].logins[0].account: required key is missing",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": 10, "when": 1}),
            "test: users[1].logins[0].when: unknown key (allowed: account, at, auth_type, ip, "
            "successful, user_agent)",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00", "account": 10}),
            "test: users[1].logins[0].at: needs a time zone (e.g. 2026-11-30T09:00:00Z): "
            "2026-11-30T09:00:00",
        ),
        (
            with_login({"at": "30/11/2026", "account": 10}),
            "test: users[1].logins[0].at: not an RFC 3339 time (e.g. 2026-11-30T09:00:00Z): "
            "'30/11/2026'",
        ),
        (
            with_login({"at": 1764493200, "account": 10}),
            "test: users[1].logins[0].at: expected an RFC 3339 time (e.g. 2026-11-30T09:00:00Z), "
            "got int 1764493200",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": 30}),
            "test: users[1].logins[0].account: 30 is not listed under accounts",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": "10"}),
            "test: users[1].logins[0].account: expected an integer, got str '10'",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": 10, "ip": "10.0.0.300"}),
            "test: users[1].logins[0].ip: not an IP address: '10.0.0.300'",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": 10, "successful": "yes"}),
            "test: users[1].logins[0].successful: expected true or false, got str 'yes'",
        ),
        (
            with_login({"at": "2026-11-30T09:00:00Z", "account": 10, "auth_type": ""}),
            "test: users[1].logins[0].auth_type: expected a non-empty string, got str ''",
        ),
        (
            with_login("2026-11-30T09:00:00Z"),
            "test: users[1].logins[0]: expected a mapping, got str '2026-11-30T09:00:00Z'",
        ),
        (
            {**world(), "users": [{**world()["users"][0], "logins": {"at": 1}}]},
            "test: users[0].logins: expected a list, got dict {'at': 1}",
        ),
        (
            world(activity_log="denied"),
            "test: activity_log: expected one of allowed, forbidden, not_found, got str 'denied'",
        ),
        (
            world(activity_log=["forbidden"]),
            "test: activity_log: expected one of allowed, forbidden, not_found, "
            "got list ['forbidden']",
        ),
    ],
)
def test_bad_login_history_is_a_one_line_error_naming_the_key(
    mapping: dict[str, Any], message: str
) -> None:
    """Each mistake in `logins` or `activity_log` fails the load with one line naming it."""
    with pytest.raises(SandboxError) as raised:
        load_world(mapping, origin="test")
    assert str(raised.value) == message


def test_a_date_without_a_time_is_refused() -> None:
    """YAML reads `at: 2026-11-30` as a date: refused, since a login has a time."""
    mapping = yaml.safe_load("{at: 2026-11-30, account: 10}")
    with pytest.raises(SandboxError, match=r"users\[1\]\.logins\[0\]\.at: a date without a time"):
        load_world(with_login(mapping), origin="test")
