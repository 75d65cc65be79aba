"""Conformance with Gcore's published OpenAPI description of the IAM API (iam_api.yaml).

(a) Every request offboard sends validates against the spec: the path template and method
    exist, path and query parameters match their schemas, and the Authorization header carries
    an `APIKey <key>` value (the spec's security scheme). Requests are captured two ways: from
    the sandbox's log while real CLI flows run (run with emails and tokens, plan, run with
    --delete-tokens, --resume), and as httpx requests, headers included, from offboard.http.api.Api.
(b) The sandbox answers every endpoint offboard uses with bodies that validate against the
    spec's response schema for that status, where the spec defines one.

Validation is by openapi-core (OpenAPI 3.1). The spec is $OFFBOARD_GCORE_SPEC, else
<repo>/../shared/gcore/iam_api.yaml, else the copy vendored in tests/spec/ (tests/spec/README.md
says where it came from; a test keeps it byte-identical to ../shared's). A local pytest without
any of them (or without openapi-core) skips with one line; with OFFBOARD_GCORE_SPEC_REQUIRED=1,
as .ci/run sets, it fails instead, so a CI checkout cannot pass without these tests.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import yaml

from offboard.core.settings import Secret
from offboard.execute.activity import read_activity
from offboard.http.api import Api, make_client
from offboard.sandbox import Sandbox, demo_world

from .conftest import KEY, world
from .helpers import settings

# CI sets this (.ci/run): there a missing spec or validator is a failure, never a skip.
REQUIRED = os.environ.get("OFFBOARD_GCORE_SPEC_REQUIRED") == "1"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "gcore" / "iam_api.yaml"
VENDORED = Path(__file__).resolve().parent / "spec" / "iam_api.yaml"


def find_spec(environ: Mapping[str, str] = os.environ) -> Path:
    """$OFFBOARD_GCORE_SPEC, else ../shared's copy, else the vendored one."""
    if environ.get("OFFBOARD_GCORE_SPEC"):
        return Path(environ["OFFBOARD_GCORE_SPEC"])
    return SHARED if SHARED.is_file() else VENDORED


def unavailable(reason: str) -> None:
    """Skip with one line locally; fail under OFFBOARD_GCORE_SPEC_REQUIRED=1 (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (OFFBOARD_GCORE_SPEC_REQUIRED=1: required here)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    import openapi_core  # noqa: F401
except ImportError:
    unavailable("openapi-core is not installed (test extra: openapi-core>=0.19)")
from jsonschema import Draft202012Validator  # noqa: E402  (openapi-core's dependency)
from openapi_core import OpenAPI  # noqa: E402
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402

SPEC = find_spec()
HOST = "https://api.gcore.com"  # the spec's server; paths are matched below it
AUTHORIZATION = re.compile(r"\A(?i:apikey) \S+\Z")

# The operations offboard uses: (method, path template).
USED = {
    ("get", "/iam/clients/me"),
    ("get", "/iam/users"),
    ("get", "/iam/clients/{clientId}/client-users/{userId}"),
    ("delete", "/iam/clients/{clientId}/client-users/{userId}"),
    ("get", "/iam/v2/clients/{clientId}/tokens"),
    ("delete", "/iam/v2/clients/{clientId}/tokens/{tokenId}"),
    ("get", "/iam/activity_log/logins"),
}


def nullable_as_31(node: Any) -> None:
    """Rewrite OpenAPI 3.0's `nullable: true` as JSON Schema's null type, in place.

    The spec says `openapi: 3.1.0` but still marks nullable fields the 3.0 way. OpenAPI 3.1
    schemas are plain JSON Schema 2020-12, which has no `nullable` keyword: a 3.1 validator
    ignores it as an unknown annotation and would reject the null that the spec means to
    allow (a token's `exp_date` is null when it never expires). So `{type: T, nullable: true}`
    becomes `{type: [T, "null"]}` (null added to an `enum` too), and a nullable schema
    without a type accepts null through `anyOf`.
    """
    if isinstance(node, list):
        for item in node:
            nullable_as_31(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        nullable_as_31(value)
    if node.pop("nullable", False) is not True:
        return
    kind = node.get("type")
    if isinstance(kind, str):
        node["type"] = [kind, "null"]
    elif isinstance(kind, list):
        node["type"] = [*kind, "null"] if "null" not in kind else kind
    else:
        rest = dict(node)
        node.clear()
        node["anyOf"] = [rest, {"type": "null"}]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]


def one_of_as_any_of(document: dict[str, Any]) -> None:
    """RevokeUserAccessForbiddenError is `oneOf: [{type: object, ...}, TokenConstrainsDeletion]`:
    the first branch accepts any object, so the documented token answer matches both branches
    and `oneOf` (exactly one) rejects it. The intent is plainly "either message": `anyOf`."""
    schema = document["components"]["schemas"]["RevokeUserAccessForbiddenError"]
    if "oneOf" in schema:
        schema["anyOf"] = schema.pop("oneOf")


def permissive_fixes(document: dict[str, Any]) -> None:
    """Two more spec slips, read as plainly meant. InviteUserError's "already invited" enum is
    a template ("User {user ID} has already been invited to client {account ID}"): a pattern.
    The shared 400 is `oneOf: [ValidationError, JSONParseError]`, two objects without required
    keys, so every object matches both and `oneOf` rejects all: `anyOf`."""
    invite = document["components"]["schemas"]["InviteUserError"]["oneOf"][1]["items"]
    invite.pop("enum")
    invite["pattern"] = r"^User \d+ has already been invited to client \d+$"
    shared = document["components"]["responses"]["400"]["content"]["application/json"]["schema"]
    shared["anyOf"] = shared.pop("oneOf")


def load_spec() -> dict[str, Any]:
    # libyaml when present: the spec is 60 KB and the pure-Python loader takes a while.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    return document


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    if not SPEC.is_file():
        unavailable(
            f"Gcore's IAM OpenAPI spec not found at {SPEC} (set OFFBOARD_GCORE_SPEC to its path)"
        )
    document = load_spec()
    nullable_as_31(document)
    one_of_as_any_of(document)
    permissive_fixes(document)
    return OpenAPI.from_dict(document)


def template_of(spec: OpenAPI, method: str, path: str) -> tuple[str, str]:
    """The (method, path template) of the spec operation a concrete request matches."""
    for template, operations in spec.spec["paths"].items():
        assert isinstance(template, str), template  # an OpenAPI path is a string key
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return method.lower(), template
    raise AssertionError(f"{method} {path}: no such operation in the spec")


def validate_request(
    spec: OpenAPI, method: str, path: str, query: str, authorization: str
) -> tuple[str, str]:
    assert AUTHORIZATION.match(authorization), "no `APIKey <key>` Authorization header"
    request = MockRequest(
        HOST,
        method,
        path,
        args=dict(parse_qsl(query, keep_blank_values=True)),
        headers={"Authorization": authorization},
    )
    spec.validate_request(request)  # raises on an unknown path/method, a bad parameter, no key
    assert len(parse_qsl(query)) == len(dict(parse_qsl(query))), f"repeated parameter: {query}"
    return template_of(spec, method, path)


# -- (a) requests ----------------------------------------------------------------------------------

# The key's user (1) administers 10 and 20; 103 has a live token in 10 that blocks its revoke.
USERS = [
    {"id": 1, "email": "admin@t.example", "roles": {10: "Administrators", 20: "Administrators"}}
]
USERS += [
    {"id": 100 + i, "email": f"u{i}@t.example", "roles": {10: "Users", 20: "Users"}}
    for i in range(8)
]
USERS[4]["tokens"] = [{"id": 900, "account": 10, "name": "ci"}]
BATCH = (
    "account,user\n10,101\n10,u2@t.example\n20,U2@T.example\n10,103\n20,109\n30,104\n"
    "10,105\n20,106\n"
)


def conformance_world(**faults: Any) -> dict[str, Any]:
    return world(users=USERS, faults={"page_size_max": 3, **faults})


def validate_log(spec: OpenAPI, sb: Sandbox) -> set[tuple[str, str]]:
    """Validate every request the sandbox saw; the sandbox let each one through its APIKey
    check (no 401), so each carried `Authorization: APIKey <key>`."""
    seen = set()
    for record in sb.requests():
        assert record.status != 401, f"{record.method} {record.path}: the key was not accepted"
        seen.add(validate_request(spec, record.method, record.path, record.query, f"APIKey {KEY}"))
    return seen


def test_requests_of_run_and_resume_follow_the_spec(spec, cli, sandbox):
    """`run` (emails resolved over several pages, a token-blocked row, a forbidden account),
    then `--resume` after failures: every request is a spec operation with valid parameters."""
    sb = sandbox(
        conformance_world(
            scripted=[
                {"account": 10, "user": 105, "responses": [503]},
                {"account": 20, "user": 106, "responses": [502]},
            ]
        )
    )
    cli.write("l.csv", BATCH)
    first = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--max-attempts",
        "1",
        "--report-dir",
        "o",
    )
    assert first.returncode == 1, first.stderr
    again = cli("run", "l.csv", "--base-url", sb.url, "--rate", "200", "--resume", "o")
    assert again.returncode == 1, again.stderr
    seen = validate_log(spec, sb)
    assert seen == {
        ("get", "/iam/clients/me"),
        ("get", "/iam/users"),
        ("get", "/iam/activity_log/logins"),
        ("delete", "/iam/clients/{clientId}/client-users/{userId}"),
        ("get", "/iam/v2/clients/{clientId}/tokens"),
    }
    pages = [r.query for r in sb.requests() if r.path == "/iam/users"]
    assert len(pages) >= 6 and all("limit=" in q for q in pages)  # 3 pages, twice


def test_requests_of_plan_and_delete_tokens_follow_the_spec(spec, cli, sandbox):
    """`plan`, then `run --delete-tokens`: membership checks, token lists and token deletes are
    spec operations with valid parameters."""
    sb = sandbox(conformance_world())
    cli.write("l.csv", BATCH)
    planned = cli("plan", "l.csv", "--base-url", sb.url, "--rate", "200", "--report-dir", "p")
    assert planned.returncode == 1, planned.stderr
    done = cli(
        "run",
        "l.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--delete-tokens",
        "--report-dir",
        "o",
    )
    assert done.returncode == 1, done.stderr
    assert validate_log(spec, sb) == USED


class Recording(httpx.AsyncBaseTransport):
    """Sends for real (to the sandbox), keeping every request offboard built, headers included."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_every_api_call_sends_a_spec_request_with_the_key_header(spec):
    """Each Api method offboard has, called for real: method, path, query and the
    `Authorization: APIKey <key>` header validate against the spec's operation and security."""
    recording = Recording()
    with Sandbox(demo_world()) as sb:
        config = settings(base_url=sb.url, api_key=Secret(sb.api_key))

        async def calls() -> None:
            async with make_client(config, recording) as client:
                api = Api(config, client, rng=random.Random(1))
                assert await api.whoami() == 1
                assert (await api.list_users()).ids_for("chen.wei@acme.example") == [13]
                assert (await api.check_member(1000, 11)).status == 200
                assert (await api.check_member(3000, 15)).status == 403
                assert [t.id for t in await api.live_token_details(1000, 13)] == [501]
                assert (await api.delete_token(1000, 501)).status == 204
                assert (await api.revoke(1000, 13)).status == 200
                assert (await api.revoke(1000, 13)).status == 404
                now = datetime.now(UTC)
                read = await read_activity(api, {13}, now, 7, now - timedelta(days=7))
                assert not read.unknown

        anyio.run(calls)
    seen = set()
    for request in recording.requests:
        assert request.url.host == "127.0.0.1"
        seen.add(
            validate_request(
                spec,
                request.method,
                request.url.path,
                request.url.query.decode(),
                request.headers["Authorization"],
            )
        )
    assert seen == USED


@pytest.mark.parametrize(
    ("method", "path", "query", "authorization", "why"),
    [
        ("GET", "/iam/users", "limit=lots", "APIKey 1_x", "Query parameter error"),
        ("GET", "/iam/clients/ten/client-users/1", "", "APIKey 1_x", "Path parameter error"),
        ("POST", "/iam/clients/me", "", "APIKey 1_x", "not found"),
        ("GET", "/iam/nothing", "", "APIKey 1_x", "not found"),
        ("GET", "/iam/clients/me", "", "Bearer 1_x", "APIKey"),
    ],
)
def test_the_validator_does_catch_bad_requests(spec, method, path, query, authorization, why):
    """The check is not vacuous: a bad parameter, path, method or auth header fails it."""
    with pytest.raises(Exception, match=why):
        validate_request(spec, method, path, query, authorization)


# -- (b) responses ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[Sandbox]:
    with Sandbox(demo_world()) as sb:
        yield sb


def answer(spec: OpenAPI, sb: Sandbox, method: str, path: str, query: str = "") -> httpx.Response:
    """Call the sandbox, validate its answer against the spec, return it."""
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"APIKey {sb.api_key}"}) as c:
        response = c.request(method, path, params=dict(parse_qsl(query)))
    request = MockRequest(
        HOST,
        method,
        path,
        args=dict(parse_qsl(query)),
        headers={"Authorization": f"APIKey {sb.api_key}"},
    )
    spec.validate_response(
        request,
        MockResponse(
            response.content,
            response.status_code,
            dict(response.headers),
            content_type=response.headers.get("content-type", ""),
        ),
    )
    return response


HQ, LABS, PARTNER = 1000, 2000, 3000


def test_reads_answer_with_the_spec_schemas(spec, demo):
    """GET /iam/clients/me (ClientBase), /iam/users pages (PaginatedUsersArray, first, middle
    and last page), membership 200/403/404 (UserRole) and the v2 token list
    (TokenResponseArray, a never-expiring token's null exp_date included), and 403."""
    assert answer(spec, demo, "GET", "/iam/clients/me").json()["currentUser"] == 1
    first = answer(spec, demo, "GET", "/iam/users", "limit=4&offset=0").json()
    assert "next" in first and "previous" not in first
    middle = answer(spec, demo, "GET", "/iam/users", "limit=4&offset=4").json()
    assert "next" in middle and "previous" in middle
    answer(spec, demo, "GET", "/iam/users", "limit=50&offset=0")
    assert answer(spec, demo, "GET", f"/iam/clients/{HQ}/client-users/11").status_code == 200
    assert answer(spec, demo, "GET", f"/iam/clients/{PARTNER}/client-users/15").status_code == 403
    assert answer(spec, demo, "GET", f"/iam/clients/{LABS}/client-users/12").status_code == 404
    tokens = answer(spec, demo, "GET", f"/iam/v2/clients/{HQ}/tokens", "issued_by=13").json()
    assert {t["id"] for t in tokens} == {501, 502, 503}
    assert any(t["exp_date"] is None for t in tokens)  # valid only as the spec's nullable
    assert answer(spec, demo, "GET", f"/iam/v2/clients/{PARTNER}/tokens").status_code == 403


def test_users_without_limit_is_an_array_of_spec_users(spec, demo):
    """Without `limit`, Gcore answers a plain array (not the spec's PaginatedUsersArray); the
    sandbox copies that, and each element is still a valid spec User."""
    with httpx.Client(base_url=demo.url, headers={"Authorization": f"APIKey {demo.api_key}"}) as c:
        users = c.get("/iam/users").json()
    assert isinstance(users, list) and len(users) == 10
    envelope = {"count": len(users), "results": users}  # the spec's shape around the same users
    request = MockRequest(HOST, "GET", "/iam/users", headers={"Authorization": "APIKey 1_x"})
    spec.validate_response(
        request, MockResponse(json.dumps(envelope).encode(), 200, content_type="application/json")
    )


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    with Sandbox(demo_world()) as sb:
        yield sb


def test_revokes_and_token_deletes_answer_with_the_spec_schemas(spec, fresh):
    """Revoke 200 (no body), 403 forbidden, 403 active tokens (RevokeUserAccessForbiddenError),
    404; token delete 204, 404 and 403: each answer is a status the spec defines, in its shape."""
    sb = fresh
    blocked = answer(spec, sb, "DELETE", f"/iam/clients/{HQ}/client-users/13")
    assert blocked.status_code == 403 and "tokens" in blocked.json()["message"]
    forbidden = answer(spec, sb, "DELETE", f"/iam/clients/{PARTNER}/client-users/15")
    assert forbidden.status_code == 403 and "permission" in forbidden.json()["message"]
    assert answer(spec, sb, "DELETE", f"/iam/v2/clients/{HQ}/tokens/501").status_code == 204
    assert answer(spec, sb, "DELETE", f"/iam/v2/clients/{HQ}/tokens/501").status_code == 404
    assert answer(spec, sb, "DELETE", f"/iam/v2/clients/{PARTNER}/tokens/1").status_code == 403
    revoked = answer(spec, sb, "DELETE", f"/iam/clients/{HQ}/client-users/13")
    assert revoked.status_code == 200 and revoked.content == b""
    assert answer(spec, sb, "DELETE", f"/iam/clients/{HQ}/client-users/13").status_code == 404


def test_the_401_answer_is_one_the_spec_defines(spec, demo):
    """A wrong key gets 401, which the spec lists for /iam/clients/me and /iam/users."""
    for path in ("/iam/clients/me", "/iam/users"):
        with httpx.Client(base_url=demo.url, headers={"Authorization": "APIKey 1_wrong"}) as c:
            response = c.get(path)
        assert response.status_code == 401
        spec.validate_response(
            MockRequest(HOST, "GET", path, headers={"Authorization": "APIKey 1_wrong"}),
            MockResponse(response.content, 401, content_type="application/json"),
        )


def test_nullable_rewrite():
    """`nullable: true` becomes a null type (and a null enum member); others are untouched."""
    schema = {
        "a": {"type": "string", "nullable": True, "enum": ["x"]},
        "b": {"$ref": "#/c", "nullable": True},
        "c": {"type": "integer"},
        "d": [{"type": "boolean", "nullable": False}],
    }
    fixed = copy.deepcopy(schema)
    nullable_as_31(fixed)
    assert fixed["a"] == {"type": ["string", "null"], "enum": ["x", None]}
    assert fixed["b"] == {"anyOf": [{"$ref": "#/c"}, {"type": "null"}]}
    assert fixed["c"] == {"type": "integer"} and fixed["d"] == [{"type": "boolean"}]


def test_the_validator_does_catch_bad_answers(spec, demo):
    """The response check is not vacuous: a token with a string id, a ClientBase missing its
    required fields, or an unknown group name fails it; so does a null exp_date under the spec
    as published (3.0-style `nullable` read as 3.1), which is why nullable_as_31 exists."""
    with httpx.Client(base_url=demo.url, headers={"Authorization": f"APIKey {demo.api_key}"}) as c:
        token = next(
            t for t in c.get(f"/iam/v2/clients/{HQ}/tokens").json() if t["exp_date"] is None
        )
    tokens = MockRequest(
        HOST, "GET", f"/iam/v2/clients/{HQ}/tokens", headers={"Authorization": "APIKey 1_x"}
    )
    me = MockRequest(HOST, "GET", "/iam/clients/me", headers={"Authorization": "APIKey 1_x"})
    role = {**token["client_user"], "role": {"id": 1, "name": "Bosses"}}
    for request, body in [
        (tokens, [{**token, "id": "501"}]),
        (me, {"id": 1000}),
        (tokens, [{**token, "client_user": role}]),
    ]:
        with pytest.raises(Exception, match=r"InvalidData|not valid"):
            spec.validate_response(
                request,
                MockResponse(json.dumps(body).encode(), 200, content_type="application/json"),
            )
    as_published = load_spec()["components"]["schemas"]["Token-2"]["properties"]["exp_date"]
    assert as_published["nullable"] is True
    errors = Draft202012Validator(as_published).iter_errors(None)
    assert [e.message for e in errors] == ["None is not of type 'string'"]


def test_invites_and_login_history_answer_with_the_spec_schemas(spec, sandbox):
    """POST /iam/clients/invite_user (200 new and existing user, 400 ValidationError, 400
    "already invited" array, 403), its request bodies, and GET /iam/activity_log/logins
    (LastLoginTimeSchema pages, 400, 403) validate against the spec (issue 13's endpoints)."""
    logins = [{"at": f"2026-11-{day:02d}T09:00:00Z", "account": 10} for day in range(1, 6)]
    sb = sandbox(world(users=[{**USERS[0], "logins": logins}, *USERS[1:]]))
    headers = {"Authorization": f"APIKey {KEY}"}
    path = "/iam/clients/invite_user"
    invites: list[tuple[dict[str, Any], int]] = [
        (
            {
                "email": "new@t.example",
                "user_role": {"id": 2, "name": "Users"},
                "client_id": 10,
                "lang": "de",
                "name": "New",
            },
            200,
        ),
        ({"email": "u0@t.example", "user_role": {"id": 5}, "client_id": 30}, 403),
        ({"email": "new@t.example", "user_role": {"name": "Engineers"}, "client_id": 20}, 200),
        ({"email": "u0@t.example", "user_role": {"id": 2}, "client_id": 10}, 400),
        ({"email": "nope", "user_role": {"id": 7}, "client_id": 99}, 400),
    ]
    for body, status in invites:
        data = json.dumps(body).encode()
        request = MockRequest(HOST, "POST", path, headers=headers, data=data)
        if status != 400 or "@" in body["email"]:
            spec.validate_request(request)  # a well-formed request, as a client would send
        response = httpx.post(sb.url + path, content=data, headers=headers)
        assert response.status_code == status, response.text
        spec.validate_response(
            request,
            MockResponse(response.content, status, content_type=response.headers["content-type"]),
        )
    with httpx.Client(base_url=sb.url, headers=headers) as c:
        for query in ("limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4", "", "limit=0"):
            response = c.get("/iam/activity_log/logins", params=dict(parse_qsl(query)))
            spec.validate_response(
                MockRequest(
                    HOST,
                    "GET",
                    "/iam/activity_log/logins",
                    args=dict(parse_qsl(query)),
                    headers=headers,
                ),
                MockResponse(
                    response.content,
                    response.status_code,
                    content_type=response.headers["content-type"],
                ),
            )
    forbidden = sandbox(world(activity_log="forbidden"))
    response = httpx.get(forbidden.url + "/iam/activity_log/logins", headers=headers)
    assert response.status_code == 403
    spec.validate_response(
        MockRequest(HOST, "GET", "/iam/activity_log/logins", headers=headers),
        MockResponse(response.content, 403),
    )


def test_the_new_schemas_do_catch_bad_answers(spec):
    """Not vacuous: an invite 200 without user_id, an "already invited" line in other words, and
    a login item without `user` all fail the (fixed) spec."""
    invite = MockRequest(
        HOST,
        "POST",
        "/iam/clients/invite_user",
        headers={"Authorization": "APIKey 1_x"},
        data=b"{}",
    )
    logins = MockRequest(
        HOST, "GET", "/iam/activity_log/logins", headers={"Authorization": "APIKey 1_x"}
    )
    item = {
        "id": 10,
        "login_at": "2026-11-01T09:00:00Z",
        "ip_address": "192.0.2.1",
        "user_agent": "x",
        "is_successful": True,
        "auth_type": "password",
    }
    for request, body, status in [
        (invite, {"status": "sent"}, 200),
        (invite, ["User 11 was invited to client 10"], 400),
        (logins, {"count": 1, "result": [item]}, 200),
    ]:
        with pytest.raises(Exception, match=r"InvalidData|not valid"):
            spec.validate_response(request, MockResponse(json.dumps(body).encode(), status))


# -- where the spec comes from ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_spec_is_found_from_the_environment_then_shared_then_the_vendored_copy(tmp_path):
    """OFFBOARD_GCORE_SPEC wins; without it ../shared's copy, else tests/spec/iam_api.yaml."""
    given = tmp_path / "spec.yaml"
    assert find_spec({"OFFBOARD_GCORE_SPEC": str(given)}) == given
    assert find_spec({}) == (SHARED if SHARED.is_file() else VENDORED)
    assert VENDORED.is_file() and (VENDORED.parent / "README.md").is_file()


def test_the_vendored_spec_is_byte_identical_to_shared():
    """The copy in tests/spec/ cannot drift from ../shared/gcore/iam_api.yaml (when present)."""
    if not SHARED.is_file():
        pytest.skip(f"no {SHARED} beside this clone to compare with")
    assert VENDORED.read_bytes() == SHARED.read_bytes()


def test_ci_requires_the_spec():
    """.ci/run exports OFFBOARD_GCORE_SPEC_REQUIRED=1 before it runs pytest."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export OFFBOARD_GCORE_SPEC_REQUIRED=1" in script
    assert script.index("OFFBOARD_GCORE_SPEC_REQUIRED=1") < script.index("-m pytest")


@pytest.mark.parametrize("required", [False, True], ids=["local", "ci"])
def test_a_missing_spec_skips_locally_and_fails_in_ci(tmp_path, required):
    """A spec path that does not exist: one skip line for a local pytest, a failure in CI."""
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if not k.startswith("OFFBOARD_")}
    environ["OFFBOARD_GCORE_SPEC"] = str(tmp_path / "missing.yaml")
    if required:
        environ["OFFBOARD_GCORE_SPEC_REQUIRED"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-q",
            "-rs",
            f"{Path(__file__)}::test_nullable_rewrite",  # needs no spec: passes either way
            f"{Path(__file__)}::test_the_validator_does_catch_bad_requests",
        ],  # 5 need it
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if required:
        assert done.returncode == 1 and "missing.yaml" in done.stdout, done.stdout
        assert "OFFBOARD_GCORE_SPEC_REQUIRED=1" in done.stdout and " skipped" not in done.stdout
    else:
        assert done.returncode == 0, done.stdout
        assert "5 skipped" in done.stdout and "spec not found at" in done.stdout
