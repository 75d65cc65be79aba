"""The sandbox simulates Gcore's IAM API faithfully, over real HTTP, with the faults it promises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from offboard.sandbox import (
    RequestRecord,
    Sandbox,
    SandboxError,
    World,
    demo_world,
    load_world,
    serve,
)

HQ, LABS, PARTNER = 1000, 2000, 3000
FORBIDDEN = {"message": "You do not have permission to perform this action."}
NOT_MEMBER = {"message": "User is not found in the specified account."}
HAS_TOKENS = {"message": "You can't remove the user as they have active tokens"}

CLIENT_BASE_REQUIRED = {
    "id", "email", "name", "status", "companyName", "deleted", "is_test", "has_active_admin",
    "currentUser", "capabilities", "serviceStatuses", "paidFeatures", "freeFeatures",
    "entryBaseDomain", "bill_type",
}  # fmt: skip
USER_REQUIRED = {
    "id", "email", "name", "lang", "phone", "company", "reseller", "client", "deleted", "groups",
    "activated", "sso_auth", "two_fa", "auth_types", "user_type", "is_active", "client_and_roles",
}  # fmt: skip
TOKEN_REQUIRED = {
    "id", "name", "description", "exp_date", "deleted", "expired", "created", "last_usage",
    "client_user",
}  # fmt: skip


def small_world(**faults: Any) -> World:
    """An admin (1) and two members (2, 3) of one account, with the given faults."""
    return load_world(
        {
            "api_key": "7_0a1b2c3d",
            "account": 1,
            "key_user": 1,
            "accounts": [{"id": 1, "name": "Solo"}],
            "users": [
                {"id": 1, "email": "admin@solo.example", "roles": {1: "Administrators"}},
                {"id": 2, "email": "two@solo.example", "roles": {1: "Users"}},
                {"id": 3, "email": "three@solo.example", "roles": {1: "Users"}},
            ],
            "faults": faults,
        },
        origin="test",
    )


def client(sb: Sandbox, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(
        base_url=sb.url, headers={"Authorization": f"APIKey {sb.api_key}"}, timeout=timeout
    )


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with Sandbox(demo_world()) as sb:
        yield sb


@pytest.fixture(scope="module")
def readonly() -> Iterator[Sandbox]:
    """One demo sandbox shared by the tests that only read."""
    with Sandbox(demo_world()) as sb:
        yield sb


@pytest.fixture
def api(readonly: Sandbox) -> Iterator[httpx.Client]:
    with client(readonly) as c:
        yield c


# -- auth and plumbing ------------------------------------------------------------------------


def test_missing_or_wrong_key_is_401(readonly: Sandbox) -> None:
    """No key, a wrong key and a wrong scheme all get Gcore's 401 message and a request id."""
    message = (
        "Authentication credentials were not provided or given token not valid for any token type."
    )
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "APIKey 7_wrong"},
        {"Authorization": f"Bearer {readonly.api_key}"},
        {"Authorization": readonly.api_key},
    ]
    with httpx.Client(base_url=readonly.url) as c:
        for headers in bad_headers:
            response = c.get("/iam/clients/me", headers=headers)
            assert response.status_code == 401
            assert response.json() == {"message": message}
            assert len(response.headers["x-request-id"]) == 32


def test_auth_scheme_is_case_insensitive(readonly: Sandbox) -> None:
    """`apikey`, `APIKey` and `APIKEY` are all accepted, as the spec's example uses `apikey`."""
    with httpx.Client(base_url=readonly.url) as c:
        for scheme in ("apikey", "APIKey", "APIKEY"):
            headers = {"authorization": f"{scheme} {readonly.api_key}"}
            assert c.get("/iam/clients/me", headers=headers).status_code == 200


def test_unknown_path_is_404_and_wrong_method_405(api: httpx.Client) -> None:
    """Unknown paths answer JSON 404; a known path with the wrong method answers 405 with Allow."""
    missing = api.get("/iam/nothing-here")
    assert missing.status_code == 404
    assert "message" in missing.json()
    wrong = api.post("/iam/users")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"


def test_every_response_carries_a_request_id() -> None:
    """200, 204, 400, 401, 403, 404, 405, 429 and 5xx answers all carry a distinct X-Request-ID."""
    world = small_world(rate_limit=8, scripted=[{"account": 1, "user": 3, "responses": [502]}])
    with Sandbox(world) as sb, client(sb) as c:
        responses = [
            c.get("/iam/users"),
            c.get("/iam/users", params={"limit": "x"}),
            c.get("/iam/users", headers={"Authorization": "APIKey nope"}),
            c.get("/iam/clients/9/client-users/2"),
            c.get("/iam/clients/1/client-users/99"),
            c.put("/iam/clients/1/client-users/2"),
            c.delete("/iam/clients/1/client-users/3"),
            c.delete("/iam/clients/1/client-users/2"),
        ]
        responses += [c.get("/iam/users") for _ in range(6)]
    statuses = {r.status_code for r in responses}
    assert statuses >= {200, 400, 401, 403, 404, 405, 429, 502}
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == len(ids)


def test_admin_pages_need_no_auth_and_are_not_logged(demo: Sandbox) -> None:
    """/_sandbox/state and /_sandbox/log answer without a key and never show up in the log."""
    with client(demo) as c:
        c.delete(f"/iam/clients/{HQ}/client-users/12")
    with httpx.Client(base_url=demo.url) as c:
        state = c.get("/_sandbox/state").json()
        log = c.get("/_sandbox/log").json()
    bruno = next(u for u in state["users"] if u["id"] == 12)
    assert bruno["exists"] is False and bruno["memberships"] == {}
    assert [entry["path"] for entry in log] == [f"/iam/clients/{HQ}/client-users/12"]
    assert log[0]["status"] == 200 and log[0]["applied"] is True
    assert len(demo.requests()) == 1


# -- reads --------------------------------------------------------------------------------------


def test_clients_me_has_every_required_field(api: httpx.Client) -> None:
    """GET /iam/clients/me returns a full ClientBase: the key's account, user and its members."""
    body = api.get("/iam/clients/me").json()
    assert body.keys() >= CLIENT_BASE_REQUIRED
    assert body["id"] == HQ and body["currentUser"] == 1
    assert body["companyName"] == "Acme HQ" and body["status"] == "active"
    member_ids = [user["id"] for user in body["users"]]
    assert member_ids == [1, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_users_without_limit_is_a_plain_array(api: httpx.Client) -> None:
    """Without `limit`, /iam/users is a bare JSON array of every visible user (Gcore's trap)."""
    body = api.get("/iam/users", params={"offset": 2}).json()
    assert isinstance(body, list)
    assert [user["id"] for user in body] == [1, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_users_page_has_schema_fields_and_no_next_on_last_page(api: httpx.Client) -> None:
    """With `limit`, pages carry count/next/previous/results; absent links are omitted, not null."""
    first = api.get("/iam/users", params={"limit": 5}).json()
    assert first["count"] == 10
    assert first["next"] == "/users?offset=5&limit=5"
    assert "previous" not in first
    last = api.get("/iam/users", params={"limit": 5, "offset": 5}).json()
    assert "next" not in last
    assert last["previous"] == "/users?offset=0&limit=5"
    ids = [u["id"] for u in first["results"] + last["results"]]
    assert ids == [1, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    erik = next(u for u in last["results"] if u["id"] == 15)
    assert erik.keys() >= USER_REQUIRED
    assert erik["lang"] == "en" and erik["user_type"] == "common"
    assert erik["auth_types"] == ["password"]
    assert erik["groups"] == [{"id": 2, "name": "Users"}]
    assert erik["client_and_roles"] == [
        {"client_id": HQ, "client_company_name": "Acme HQ", "user_id": 15, "user_roles": ["2"]},
        {
            "client_id": PARTNER,
            "client_company_name": "Partner Co",
            "user_id": 15,
            "user_roles": ["2"],
        },
    ]
    grace = next(u for u in last["results"] if u["id"] == 17)
    assert grace["email"] == "Grace.ONeil@Acme.Example"


def test_page_size_max_caps_limit() -> None:
    """page_size_max shortens pages; walking by len(results) still reaches every user."""
    with Sandbox(small_world(page_size_max=2)) as sb, client(sb) as c:
        page = c.get("/iam/users", params={"limit": 50}).json()
        assert len(page["results"]) == 2
        assert page["next"] == "/users?offset=2&limit=2"
        seen: list[int] = []
        while True:
            page = c.get("/iam/users", params={"limit": 50, "offset": len(seen)}).json()
            seen += [user["id"] for user in page["results"]]
            if "next" not in page:
                break
    assert seen == [1, 2, 3]


def test_membership_get_answers_200_403_404(api: httpx.Client) -> None:
    """GET client-users: the user's group, 403 where the key is no admin or no account, else 404."""
    ok = api.get(f"/iam/clients/{LABS}/client-users/11")
    assert ok.status_code == 200
    assert ok.json() == {"user_role": {"id": 5, "name": "Engineers"}}
    for account in (PARTNER, 9999):
        forbidden = api.get(f"/iam/clients/{account}/client-users/15")
        assert (forbidden.status_code, forbidden.json()) == (403, FORBIDDEN)
    missing = api.get(f"/iam/clients/{LABS}/client-users/14")
    assert (missing.status_code, missing.json()) == (404, NOT_MEMBER)


def test_token_list_filters(api: httpx.Client) -> None:
    """Token list: all the account's tokens; issued_by, not_issued_by, role, deleted filter."""

    def ids(**params: Any) -> list[int]:
        response = api.get(f"/iam/v2/clients/{HQ}/tokens", params=params)
        assert response.status_code == 200
        return [token["id"] for token in response.json()]

    assert ids() == [500, 501, 502, 503]  # deleted and expired included, Labs' 504 not
    assert ids(issued_by=13) == [501, 502, 503]
    assert ids(not_issued_by=13) == [500]
    assert ids(role="Engineers") == ids(role=5) == [501, 502, 503]
    assert ids(deleted="true") == [503]  # the real meaning, not the inverted docs
    assert ids(deleted="false") == [500, 501, 502]
    token = api.get(f"/iam/v2/clients/{HQ}/tokens", params={"issued_by": 13}).json()[1]
    assert token.keys() >= TOKEN_REQUIRED
    assert token["expired"] is True and token["exp_date"] is not None
    assert token["client_user"] == {
        "deleted": False,
        "user_id": 13,
        "user_name": "Chen Wei",
        "user_email": "chen.wei@acme.example",
        "client_id": HQ,
        "role": {"id": 5, "name": "Engineers"},
    }
    assert api.get(f"/iam/v2/clients/{PARTNER}/tokens").status_code == 403
    assert api.get(f"/iam/v2/clients/{HQ}/tokens", params={"deleted": "maybe"}).status_code == 400


# -- changes ------------------------------------------------------------------------------------


def test_revoke_keeps_a_user_with_other_accounts(demo: Sandbox) -> None:
    """Revoking one of two accounts answers 200 (empty body) and leaves the user in the other."""
    with client(demo) as c:
        response = c.delete(f"/iam/clients/{HQ}/client-users/11")
        assert response.status_code == 200 and response.content == b""
        assert c.get(f"/iam/clients/{HQ}/client-users/11").status_code == 404
    assert not demo.has_access(HQ, 11) and demo.has_access(LABS, 11)
    assert demo.user_exists(11)
    assert [(r.status, r.applied) for r in demo.requests()] == [(200, True), (404, False)]


def test_revoking_the_last_account_deletes_the_user(demo: Sandbox) -> None:
    """Revoking a user's only account deletes them; they vanish from /iam/users; a repeat is 404."""
    with client(demo) as c:
        assert c.delete(f"/iam/clients/{HQ}/client-users/12").status_code == 200
        again = c.delete(f"/iam/clients/{HQ}/client-users/12")
        assert (again.status_code, again.json()) == (404, NOT_MEMBER)
        emails = [user["email"] for user in c.get("/iam/users").json()]
    assert not demo.user_exists(12)
    assert "bruno.keller@acme.example" not in emails


def test_revoke_is_404_for_a_non_member_and_403_where_key_is_no_admin(demo: Sandbox) -> None:
    """A revoke where the user is not a member is 404; in an account the key can't manage, 403."""
    with client(demo) as c:
        missing = c.delete(f"/iam/clients/{LABS}/client-users/14")
        forbidden = c.delete(f"/iam/clients/{PARTNER}/client-users/15")
        nowhere = c.delete("/iam/clients/9999/client-users/15")
    assert (missing.status_code, missing.json()) == (404, NOT_MEMBER)
    assert (forbidden.status_code, forbidden.json()) == (403, FORBIDDEN)
    assert (nowhere.status_code, nowhere.json()) == (403, FORBIDDEN)
    assert demo.has_access(PARTNER, 15)


def test_live_token_blocks_revoke_until_deleted(demo: Sandbox) -> None:
    """A live token in the account blocks the revoke with 403; deleting it (204) unblocks it."""
    assert demo.live_tokens(HQ, 13) == [501]
    with client(demo) as c:
        blocked = c.delete(f"/iam/clients/{HQ}/client-users/13")
        assert (blocked.status_code, blocked.json()) == (403, HAS_TOKENS)
        deleted = c.delete(f"/iam/v2/clients/{HQ}/tokens/501")
        assert deleted.status_code == 204 and deleted.content == b""
        assert demo.live_tokens(HQ, 13) == []
        assert c.delete(f"/iam/clients/{HQ}/client-users/13").status_code == 200
        # Hana's live token is in Labs: it does not block her HQ revoke.
        assert c.delete(f"/iam/clients/{HQ}/client-users/18").status_code == 200
        assert c.delete(f"/iam/clients/{LABS}/client-users/18").status_code == 403
    assert not demo.user_exists(13)
    assert [r.applied for r in demo.requests()] == [False, True, True, True, False]


def test_token_delete_answers_204_then_404(demo: Sandbox) -> None:
    """Token delete: 204 once, then 404; 404 for expired, deleted or other-account tokens; 403."""
    with client(demo) as c:
        assert c.delete(f"/iam/v2/clients/{HQ}/tokens/500").status_code == 204
        for token in (500, 502, 503, 504, 999):
            response = c.delete(f"/iam/v2/clients/{HQ}/tokens/{token}")
            assert response.status_code == 404
            assert response.json() == {"message": "API token not found."}
        assert c.delete(f"/iam/v2/clients/{PARTNER}/tokens/504").status_code == 403
        listed = c.get(f"/iam/v2/clients/{HQ}/tokens", params={"issued_by": 1}).json()
    assert listed[0]["deleted"] is True and listed[0]["client_user"]["deleted"] is True


# -- faults -------------------------------------------------------------------------------------


def test_scripted_answers_are_consumed_in_order(demo: Sandbox) -> None:
    """The demo's scripted 503 then 429 (Retry-After: 1) come first, then the revoke succeeds."""
    with client(demo) as c:
        responses = [c.delete(f"/iam/clients/{HQ}/client-users/16") for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 429, 200]
    assert responses[1].headers["retry-after"] == "1"
    assert "retry-after" not in responses[0].headers
    assert [r.applied for r in demo.requests()] == [False, False, True]
    assert not demo.user_exists(16)


def test_scripted_retry_after_ms_header() -> None:
    """A scripted {status, retry_after_ms} answer sets the retry-after-ms header."""
    script = [{"account": 1, "user": 2, "responses": [{"status": 503, "retry_after_ms": 200}]}]
    with Sandbox(small_world(scripted=script)) as sb, client(sb) as c:
        response = c.delete("/iam/clients/1/client-users/2")
        assert sb.has_access(1, 2)
    assert response.status_code == 503
    assert response.headers["retry-after-ms"] == "200"


def test_drop_applies_the_revoke_and_gives_a_transport_error() -> None:
    """A scripted drop applies the revoke, then cuts the connection: httpx gets a TransportError."""
    script = [{"account": 1, "user": 2, "responses": ["drop"]}]
    with Sandbox(small_world(scripted=script)) as sb, client(sb) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.delete("/iam/clients/1/client-users/2")
        assert not sb.has_access(1, 2)
        retry = c.delete("/iam/clients/1/client-users/2")
    assert retry.status_code == 404  # what a blind retry sees: the SDK's classic trap
    assert [(r.status, r.applied) for r in sb.requests()] == [(None, True), (404, False)]


def test_drop_rate_drops_revokes_only() -> None:
    """drop_rate 1 drops every revoke (after applying it) and leaves other requests alone."""
    with Sandbox(small_world(drop_rate=1.0)) as sb, client(sb) as c:
        assert c.get("/iam/clients/1/client-users/2").status_code == 200
        with pytest.raises(httpx.TransportError):
            c.delete("/iam/clients/1/client-users/2")
    assert not sb.has_access(1, 2)


def test_delay_outlasts_a_client_timeout_and_does_not_slow_stopping() -> None:
    """A scripted delay applies the revoke and times the client out; stopping skips the wait."""
    script = [{"account": 1, "user": 2, "responses": [{"delay": 5}]}]
    sb = Sandbox(small_world(scripted=script))
    with sb, client(sb, timeout=0.2) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.delete("/iam/clients/1/client-users/2")
        assert not sb.has_access(1, 2)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1.0


def test_error_rate_answers_5xx_without_applying() -> None:
    """error_rate 1 answers every API request with 500/502/503/504 and changes nothing."""
    with Sandbox(small_world(error_rate=1.0, seed=3)) as sb, client(sb) as c:
        statuses = [c.delete("/iam/clients/1/client-users/2").status_code for _ in range(8)]
    assert set(statuses) <= {500, 502, 503, 504}
    assert sb.has_access(1, 2)
    assert not any(r.applied for r in sb.requests())


def test_rate_limit_answers_429_with_retry_after() -> None:
    """Beyond rate_limit requests in one second, requests get 429 with Retry-After, not applied."""
    with Sandbox(small_world(rate_limit=3, retry_after=2)) as sb, client(sb) as c:
        responses = [c.get("/iam/clients/me") for _ in range(3)]
        responses.append(c.delete("/iam/clients/1/client-users/2"))
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[3].headers["retry-after"] == "2"
    assert sb.has_access(1, 2)


def test_latency_delays_every_api_response() -> None:
    """latency adds its seconds before each API response."""
    with Sandbox(small_world(latency=0.15)) as sb, client(sb) as c:
        started = time.monotonic()
        c.get("/iam/clients/me")
        assert time.monotonic() - started >= 0.15


def test_request_log_records_arrival_order_and_query() -> None:
    """requests() is a snapshot of frozen records in arrival order with the raw query string."""
    with Sandbox(small_world()) as sb, client(sb) as c:
        c.get("/iam/users", params={"limit": 2, "offset": 0})
        c.get("/iam/clients/me")
        records = sb.requests()
    assert [(r.method, r.path, r.query, r.status) for r in records] == [
        ("GET", "/iam/users", "limit=2&offset=0", 200),
        ("GET", "/iam/clients/me", "", 200),
    ]
    assert isinstance(records[0], RequestRecord) and records[0].time <= records[1].time
    with pytest.raises(AttributeError):
        records[0].status = 500  # type: ignore[misc]  # frozen: the refusal is what is tested


# -- running ----------------------------------------------------------------------------------


def test_many_sandboxes_start_from_worker_threads() -> None:
    """Sandboxes start and stop from non-main threads, several at once, each on its own port."""
    ports: list[int] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with Sandbox(small_world()) as sb, client(sb) as c:
                assert c.get("/iam/clients/me").status_code == 200
                ports.append(sb.port)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == [] and len(set(ports)) == 4


def test_busy_port_is_a_sandbox_error(readonly: Sandbox) -> None:
    """Starting on a port that is taken raises a one-line SandboxError."""
    with pytest.raises(SandboxError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
        Sandbox(small_world(), port=readonly.port).start()


def test_serve_blocks_until_stopped() -> None:
    """serve() calls on_ready with the URL, serves until told to stop, then returns."""
    stop = threading.Event()
    urls: list[str] = []
    thread = threading.Thread(
        target=serve, args=(small_world(), 0, urls.append), kwargs={"stop": stop}
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not urls and time.monotonic() < deadline:
        time.sleep(0.01)
    with httpx.Client(base_url=urls[0]) as c:
        assert c.get("/_sandbox/state").status_code == 200
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


# -- scenarios ----------------------------------------------------------------------------------


def test_demo_world_has_the_promised_cases() -> None:
    """The demo world: key user 1 administers HQ and Labs only, scripted user 16, mixed-case 17,
    and Ivan (19) in all three accounts, Partner Co among them (the key may not manage it)."""
    world = demo_world()
    assert (world.api_key, world.account, world.key_user) == ("sandbox_4f1c2a9e0b7d", HQ, 1)
    roles = {user.id: dict(user.roles) for user in world.users}
    assert roles[1] == {HQ: "Administrators", LABS: "Administrators", PARTNER: "Users"}
    assert set(roles) == {1, 11, 12, 13, 14, 15, 16, 17, 18, 19}
    assert set(roles[19]) == {HQ, LABS, PARTNER}
    assert (HQ, 16) in world.faults.scripted


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"eror_rate": 0.1}, "test: faults.eror_rate: unknown key"),
        ({"error_rate": 2}, "test: faults.error_rate: must be between 0 and 1"),
        ({"rate_limit": "fast"}, "test: faults.rate_limit: expected an integer, got str 'fast'"),
        ({"seed": True}, "test: faults.seed: expected an integer, got bool True"),
        ({"scripted": [{"account": 1, "user": 2, "responses": ["explode"]}]},
         "test: faults.scripted[0].responses[0]: expected a status code"),
        ({"scripted": [{"account": 1, "user": 2, "responses": [200]}]},
         "test: faults.scripted[0].responses[0]: a scripted status must be an error"),
    ],
)  # fmt: skip
def test_load_world_rejects_bad_faults(change: dict[str, Any], expected: str) -> None:
    """Unknown fault keys and bad fault values are one-line SandboxErrors naming origin and key."""
    with pytest.raises(SandboxError) as caught:
        small_world(**change)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def base_scenario() -> dict[str, Any]:
    return {
        "account": 1,
        "key_user": 1,
        "accounts": [{"id": 1, "name": "Solo"}],
        "users": [{"id": 1, "email": "a@x.example", "roles": {1: "Administrators"}}],
    }


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("colour",), "red", "jobs/x.yaml: sandbox: colour: unknown key"),
        (("account",), "1", "jobs/x.yaml: sandbox: account: expected an integer, got str '1'"),
        (("accounts",), {"id": 1}, "jobs/x.yaml: sandbox: accounts: expected a list"),
        (("users", 0, "id"), 1.5, "jobs/x.yaml: sandbox: users[0].id: expected an integer"),
        (("users", 0, "roles"), {1: "Admins"},
         "jobs/x.yaml: sandbox: users[0].roles.1: unknown group 'Admins'"),
        (("users", 0, "roles"), {2: "Users"},
         "jobs/x.yaml: sandbox: users[0].roles.2: account is not listed"),
        (("users", 0, "emial"), "a@x", "jobs/x.yaml: sandbox: users[0].emial: unknown key"),
        (("key_user",), 5, "jobs/x.yaml: sandbox: key_user: 5 is not listed under users"),
    ],
)  # fmt: skip
def test_load_world_rejects_bad_scenarios(path: tuple[Any, ...], value: Any, expected: str) -> None:
    """Unknown keys, wrong types and dangling references are one-line SandboxErrors."""
    scenario = base_scenario()
    target: Any = scenario
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(SandboxError) as caught:
        load_world(scenario, origin="jobs/x.yaml: sandbox")
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_load_world_rejects_a_non_mapping() -> None:
    """An empty or non-mapping sandbox section is a SandboxError, not a TypeError."""
    with pytest.raises(SandboxError, match=r"^x: expected a mapping, got NoneType None$"):
        load_world(None, origin="x")


def test_load_world_rejects_an_alias_bomb_at_once() -> None:
    """A billion-laughs value (or a list where a group belongs) is a short SandboxError in
    milliseconds: the message describes the value without expanding it."""
    import yaml

    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    pairs = zip("abcdefgh", "bcdefghi", strict=True)
    lines += [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in pairs]
    bomb = yaml.safe_load("\n".join(lines))["i"]
    for path in (("account",), ("users", 0, "roles")):
        scenario = base_scenario()
        target: Any = scenario
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = bomb if path == ("account",) else {1: bomb}
        started = time.monotonic()
        with pytest.raises(SandboxError) as caught:
            load_world(scenario, origin="x")
        assert time.monotonic() - started < 1.0
        assert len(str(caught.value)) < 300 and "\n" not in str(caught.value)


# -- restarting with the same state -------------------------------------------------------------


def test_restart_on_the_same_port_keeps_the_state() -> None:
    """A sandbox stopped mid-run and started again on its port with its state keeps what was
    applied; while it is down, a client gets connection refused (a transport error)."""
    world = small_world()
    first = Sandbox(world)
    with first, client(first) as c:
        assert c.delete("/iam/clients/1/client-users/2").status_code == 200
    port = first.port  # still known after stop()
    with pytest.raises(httpx.ConnectError), client(first) as c:
        c.get("/iam/clients/me")
    second = Sandbox(world, port=port, state=first.state)
    with second, client(second) as c:
        assert second.url == first.url
        assert c.delete("/iam/clients/1/client-users/2").status_code == 404
        assert c.delete("/iam/clients/1/client-users/3").status_code == 200
    assert second.state is first.state
    assert not first.has_access(1, 2) and not second.has_access(1, 3)
    assert [r.status for r in second.requests()] == [404, 200]  # each sandbox logs its own


def test_state_of_another_world_is_refused() -> None:
    """A State belongs to its world: reusing it with a different world is a SandboxError."""
    first = Sandbox(small_world())
    with pytest.raises(SandboxError, match="another world"):
        Sandbox(small_world(latency=0.1), state=first.state)
    with pytest.raises(SandboxError, match="not started"):
        _ = first.port


def test_a_request_arriving_while_stopping_is_cut_and_not_applied() -> None:
    """Once stop() has begun, a revoke that slips in on an open connection gets a truncated
    answer (a transport error for the client), is not applied, and is logged with no status."""
    import asyncio

    from offboard.sandbox.app import ConnectionDropped, SandboxApp
    from offboard.sandbox.faults import FaultInjector
    from offboard.sandbox.log import RequestLog
    from offboard.sandbox.state import State

    world = small_world()
    state, log, stopping = State(world), RequestLog(), threading.Event()
    app = SandboxApp(state, log, FaultInjector(world.faults), stopping)
    stopping.set()
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "DELETE",
        "path": "/iam/clients/1/client-users/2",
        "query_string": b"",
        "headers": [(b"authorization", b"APIKey 7_0a1b2c3d")],
    }
    with pytest.raises(ConnectionDropped):
        asyncio.run(app(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]  # no body: truncated
    assert state.has_access(1, 2)
    assert [(r.status, r.applied) for r in log.records()] == [(None, False)]
