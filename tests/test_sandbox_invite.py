"""POST /iam/clients/invite_user in the sandbox: invites add or create users as Gcore does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from offboard.sandbox import Sandbox, demo_world, load_world

HQ, LABS, PARTNER = 1000, 2000, 3000
INVITE = "/iam/clients/invite_user"
FORBIDDEN = {"message": "You do not have permission to perform this action."}
REQUIRED = ["This field is required"]


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with Sandbox(demo_world()) as sb:
        yield sb


@pytest.fixture
def api(demo: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=demo.url, headers={"Authorization": f"APIKey {demo.api_key}"}, timeout=5
    ) as c:
        yield c


def invite(
    api: httpx.Client, email: str, account: int, role: Any = None, **extra: Any
) -> httpx.Response:
    return api.post(
        INVITE, json={"email": email, "user_role": role or {"id": 2}, "client_id": account, **extra}
    )


def state(sb: Sandbox) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(sb.url + "/_sandbox/state").json()
    return answer


def memberships(snapshot: dict[str, Any]) -> dict[str, dict[str, str]]:
    """email -> memberships of the live users: what a restore must give back."""
    return {u["email"].casefold(): u["memberships"] for u in snapshot["users"] if u["exists"]}


def test_an_unknown_email_creates_a_user_with_a_new_id(demo: Sandbox, api: httpx.Client) -> None:
    """A new e-mail becomes user 20 (above every id), with its name, lang and group, and shows
    in /iam/users, /iam/clients/me, the membership read and the snapshot."""
    answer = invite(
        api, "new.hire@acme.example", HQ, {"id": 5, "name": "Engineers"}, name="New Hire", lang="de"
    )
    assert answer.status_code == 200
    assert answer.json() == {"status": "sent", "user_id": 20}
    listed = api.get("/iam/users", params={"limit": 50}).json()["results"]
    new = next(u for u in listed if u["id"] == 20)
    assert new["email"] == "new.hire@acme.example" and new["name"] == "New Hire"
    assert new["lang"] == "de" and new["activated"] is False  # has not followed the link yet
    assert new["groups"] == [{"id": 5, "name": "Engineers"}]
    assert [c["client_id"] for c in new["client_and_roles"]] == [HQ]
    assert 20 in [u["id"] for u in api.get("/iam/clients/me").json()["users"]]
    assert api.get(f"/iam/clients/{HQ}/client-users/20").json() == {
        "user_role": {"id": 5, "name": "Engineers"}
    }
    snapshot = state(demo)
    assert snapshot["users"][-1] == {
        "id": 20,
        "email": "new.hire@acme.example",
        "name": "New Hire",
        "exists": True,
        "memberships": {str(HQ): "Engineers"},
    }
    assert snapshot["invites"] == [
        {
            "account": HQ,
            "user": 20,
            "email": "new.hire@acme.example",
            "role": "Engineers",
            "new_user": True,
        }
    ]
    assert demo.has_access(HQ, 20)
    assert invite(api, "second@acme.example", LABS).json()["user_id"] == 21


def test_an_existing_user_joins_the_account_with_the_same_id(
    demo: Sandbox, api: httpx.Client
) -> None:
    """Dana (14, HQ only) invited to Labs by e-mail, in other case: same id, new membership,
    her name and language untouched."""
    answer = invite(
        api, "DANA.Novak@acme.example", LABS, {"name": "Engineers"}, name="X", lang="zh"
    )
    assert answer.status_code == 200 and answer.json() == {"status": "sent", "user_id": 14}
    assert api.get(f"/iam/clients/{LABS}/client-users/14").json()["user_role"]["name"] == (
        "Engineers"
    )
    dana = next(u for u in state(demo)["users"] if u["id"] == 14)
    assert dana["memberships"] == {str(HQ): "Users", str(LABS): "Engineers"}
    assert dana["name"] == "Dana Novak"
    listed = api.get("/iam/users", params={"limit": 50}).json()["results"]
    assert next(u for u in listed if u["id"] == 14)["lang"] == "en"
    assert state(demo)["invites"][0]["new_user"] is False


def test_inviting_a_member_again_is_400_with_the_array_form(
    demo: Sandbox, api: httpx.Client
) -> None:
    """Grace (17) is already in HQ: 400 ["User 17 has already been invited to client 1000"],
    matched case-insensitively, nothing changed, the request logged as not applied."""
    before = state(demo)
    answer = invite(api, "grace.oneil@acme.example", HQ, {"id": 1})
    assert answer.status_code == 400
    assert answer.json() == ["User 17 has already been invited to client 1000"]
    assert state(demo) == before
    assert demo.requests()[-1].applied is False


def test_a_deleted_user_invited_again_is_a_new_user(demo: Sandbox, api: httpx.Client) -> None:
    """Bruno (12) loses his only account and is deleted; inviting his e-mail creates user 20,
    never 12 again; and a user deleted after an invite does not free their id either."""
    assert api.delete(f"/iam/clients/{HQ}/client-users/12").status_code == 200
    assert invite(api, "bruno.keller@acme.example", HQ).json()["user_id"] == 20
    assert not demo.user_exists(12) and demo.has_access(HQ, 20)
    users = {u["id"]: u for u in state(demo)["users"]}
    assert users[12]["exists"] is False and users[20]["memberships"] == {str(HQ): "Users"}
    assert api.get(f"/iam/clients/{HQ}/client-users/12").status_code == 404
    assert api.delete(f"/iam/clients/{HQ}/client-users/20").status_code == 200
    assert invite(api, "bruno.keller@acme.example", HQ).json()["user_id"] == 21


def test_revoke_then_invite_restores_the_memberships(demo: Sandbox, api: httpx.Client) -> None:
    """What `offboard restore` relies on: revoke Alice in Labs and Hana in HQ, invite both back
    with their old groups, and the live memberships equal those before the run."""
    before = memberships(state(demo))
    assert api.delete(f"/iam/clients/{LABS}/client-users/11").status_code == 200
    assert api.delete(f"/iam/clients/{HQ}/client-users/18").status_code == 200
    assert memberships(state(demo)) != before
    assert invite(api, "alice.martin@acme.example", LABS, {"id": 5}).json()["user_id"] == 11
    assert invite(api, "hana.sato@acme.example", HQ, {"id": 2}).json()["user_id"] == 18
    assert memberships(state(demo)) == before


def test_an_account_the_key_does_not_administer_is_403(demo: Sandbox, api: httpx.Client) -> None:
    """Partner Co (the key's user is a plain member): 403, as a revoke there is; nothing added."""
    before = state(demo)
    for email in ("alice.martin@acme.example", "someone@else.example"):
        answer = invite(api, email, PARTNER)
        assert answer.status_code == 403 and answer.json() == FORBIDDEN
    assert state(demo) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": REQUIRED, "user_role": REQUIRED, "client_id": REQUIRED}),
        ({"email": "a@b.example", "user_role": {"id": 2}}, {"client_id": REQUIRED}),
        (
            {"email": None, "user_role": {"id": 2}, "client_id": HQ},
            {"email": ["This field may not be null."]},
        ),
        (
            {"email": "not-an-address", "user_role": {"id": 2}, "client_id": HQ},
            {"email": ["Enter a valid email address."]},
        ),
        (
            {"email": " ", "user_role": {"id": 2}, "client_id": HQ},
            {"email": ["This field may not be blank."]},
        ),
        (
            {"email": 7, "user_role": {"id": 2}, "client_id": HQ},
            {"email": ["Enter a valid email address."]},
        ),
        (
            {"email": "a@b.example", "user_role": "Users", "client_id": HQ},
            {"user_role": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (
            {
                "email": "a@b.example",
                "user_role": {"id": 100, "name": "Fake role"},
                "client_id": HQ,
            },
            {"user_role": ["Invalid role: OrderedDict([('id', 100), ('name', 'Fake role')])"]},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": 1, "name": "Users"}, "client_id": HQ},
            {"user_role": ["Invalid role: OrderedDict([('id', 1), ('name', 'Users')])"]},
        ),
        (
            {"email": "a@b.example", "user_role": {"name": "Bosses"}, "client_id": HQ},
            {"user_role": ["Invalid role: OrderedDict([('name', 'Bosses')])"]},
        ),
        (
            {"email": "a@b.example", "user_role": {}, "client_id": HQ},
            {"user_role": ["Invalid role: OrderedDict([])"]},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": True}, "client_id": HQ},
            {"user_role": ["Invalid role: OrderedDict([('id', True)])"]},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": 2}, "client_id": "1000"},
            {"client_id": ["A valid integer is required."]},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": 2}, "client_id": 9999},
            {"client_id": ['Invalid pk "9999" - object does not exist.']},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": 2}, "client_id": HQ, "lang": "fr"},
            {"lang": ['"fr" is not a valid choice.']},
        ),
        (
            {"email": "a@b.example", "user_role": {"id": 2}, "client_id": HQ, "name": 5},
            {"name": ["Not a valid string."]},
        ),
        (
            {"email": "x", "user_role": [], "client_id": 9999, "lang": None},
            {
                "email": ["Enter a valid email address."],
                "user_role": ["Invalid data. Expected a dictionary, but got list."],
                "client_id": ['Invalid pk "9999" - object does not exist.'],
                "lang": ["This field may not be null."],
            },
        ),
    ],
)
def test_validation_errors_name_each_bad_field(
    demo: Sandbox, api: httpx.Client, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """A bad body is 400 with the ValidationError shape naming every bad field; no change."""
    before = state(demo)
    answer = api.post(INVITE, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"errors": errors}
    assert state(demo) == before


def test_a_body_that_is_not_a_json_object_is_400(api: httpx.Client) -> None:
    """Not JSON: the JSONParseError shape; JSON but not an object: non_field_errors; an empty
    body: every required field missing."""
    broken = api.post(INVITE, content=b'{"email": ', headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["message"].startswith("JSON parse error - ")
    listed = api.post(INVITE, json=["a@b.example"])
    assert listed.json() == {
        "errors": {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    }
    empty = api.post(INVITE)
    assert empty.status_code == 400 and set(empty.json()["errors"]) == {
        "email",
        "user_role",
        "client_id",
    }


def test_roles_by_id_by_name_or_both(demo: Sandbox, api: httpx.Client) -> None:
    """The Group object may name the group by id, by name or by both; each is accepted."""
    for n, role in enumerate(
        [
            {"id": 3022},
            {"name": "Purge and Prefetch only (API+Web)"},
            {"id": 1, "name": "Administrators"},
        ]
    ):
        assert invite(api, f"r{n}@acme.example", HQ, role).status_code == 200
    roles = {u["email"]: u["memberships"][str(HQ)] for u in state(demo)["users"][-3:]}
    assert roles == {
        "r0@acme.example": "Purge and Prefetch only (API)",
        "r1@acme.example": "Purge and Prefetch only (API+Web)",
        "r2@acme.example": "Administrators",
    }


def test_auth_method_and_size_are_checked(demo: Sandbox, api: httpx.Client) -> None:
    """No key: 401 and nothing invited; GET: 405 with Allow: POST; a body over 1 MiB: 413."""
    unauthorised = httpx.post(demo.url + INVITE, json={"email": "a@b.example"})
    assert unauthorised.status_code == 401
    wrong = api.get(INVITE)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert api.post(INVITE, content=b" " * ((1 << 20) + 1)).status_code == 413
    assert state(demo)["invites"] == []


def test_invites_see_the_truth_through_lying_reads_and_count_against_the_rate_limit() -> None:
    """With `read_lie`, reads still show a revoked membership, but the invite (a write) sees it
    gone and adds it back; invites use the rate budget like every request (429, not applied)."""
    world = load_world(
        {
            "account": 1,
            "key_user": 1,
            "accounts": [{"id": 1, "name": "Solo"}, {"id": 2, "name": "Duo"}],
            "users": [
                {
                    "id": 1,
                    "email": "admin@solo.example",
                    "roles": {1: "Administrators", 2: "Administrators"},
                },
                {"id": 2, "email": "two@solo.example", "roles": {1: "Users", 2: "Users"}},
            ],
            "faults": {"read_lie": True, "rate_limit": 3},
        },
        origin="test",
    )
    with (
        Sandbox(world) as sb,
        httpx.Client(base_url=sb.url, headers={"Authorization": f"APIKey {sb.api_key}"}) as api,
    ):
        assert api.delete("/iam/clients/2/client-users/2").status_code == 200
        assert api.get("/iam/clients/2/client-users/2").status_code == 200  # the lie
        assert invite(api, "two@solo.example", 2).json() == {"status": "sent", "user_id": 2}
        throttled = invite(api, "four@solo.example", 1)
        assert throttled.status_code == 429
        assert sb.requests()[-1].applied is False
        assert [u["email"] for u in state(sb)["users"]] == [
            "admin@solo.example",
            "two@solo.example",
        ]
        assert sb.has_access(2, 2)
