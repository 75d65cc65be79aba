"""The simulated Gcore IAM endpoints: a regex route table and one plain function per endpoint.

Handlers are synchronous and fault-free: they read or change the State and return a Response.
Auth, faults, latency and logging are the app's business (app.py), except the read faults
(`read_lag`, `read_lie`), which live in the State's membership views that the reads here use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from offboard.sandbox import shapes
from offboard.sandbox.state import Revoke, State, TokenDelete
from offboard.sandbox.world import ROLE_IDS

FORBIDDEN = "You do not have permission to perform this action."
NOT_MEMBER = "User is not found in the specified account."
HAS_TOKENS = "You can't remove the user as they have active tokens"
TOKEN_NOT_FOUND = "API token not found."


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    args: tuple[int, ...]  # the integer path parameters, in order


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    applied: bool = False


Handler = Callable[[State, Request], Response]


class BadRequest(Exception):
    """A query parameter that cannot be parsed; answered with 400."""


def json_response(status: int, data: Any, applied: bool = False) -> Response:
    body = json.dumps(data).encode()
    return Response(status, body, (("content-type", "application/json"),), applied)


def error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    response = json_response(status, {"message": message})
    return Response(status, response.body, response.headers + headers)


def parse_query(raw: str) -> dict[str, str]:
    # The last value wins for a repeated parameter, as in Django's QueryDict.get.
    return dict(parse_qsl(raw, keep_blank_values=True))


# -- handlers ---------------------------------------------------------------------------------


def account_details(state: State, request: Request) -> Response:
    world = state.world
    return json_response(200, shapes.client_base(world, state.members(world.account)))


def list_users(state: State, request: Request) -> Response:
    world = state.world
    users = [shapes.user(world, member) for member in state.visible_users()]
    if "limit" not in request.query:
        # Documented Gcore behaviour, and a trap: without `limit` there is no envelope at all.
        return json_response(200, users)
    limit = _integer(request.query, "limit", minimum=1)
    offset = _integer(request.query, "offset", minimum=0, default=0)
    if world.faults.page_size_max is not None:
        limit = min(limit, world.faults.page_size_max)
    page = users[offset : offset + limit]
    body: dict[str, Any] = {"count": len(users)}
    # `next`/`previous` are typed as non-nullable strings, so they are left out, not null.
    # The missing /iam prefix copies the spec's own example URL.
    if offset + len(page) < len(users):
        body["next"] = f"/users?offset={offset + len(page)}&limit={limit}"
    if offset > 0:
        body["previous"] = f"/users?offset={max(offset - limit, 0)}&limit={limit}"
    body["results"] = page
    return json_response(200, body)


def user_role(state: State, request: Request) -> Response:
    account, user = request.args
    if not state.may_manage(account):
        return error(403, FORBIDDEN)
    role = state.shown_role(account, user)  # a read: subject to read_lag and read_lie
    if role is None:
        return error(404, NOT_MEMBER)
    return json_response(200, {"user_role": shapes.group(role)})


def revoke_access(state: State, request: Request) -> Response:
    account, user = request.args
    outcome = state.revoke(account, user)
    if outcome is Revoke.FORBIDDEN:
        return error(403, FORBIDDEN)
    if outcome is Revoke.NOT_MEMBER:
        return error(404, NOT_MEMBER)
    if outcome is Revoke.HAS_TOKENS:
        return error(403, HAS_TOKENS)
    # The spec defines no body for this 200; an empty one catches clients that parse it blindly.
    return Response(200, applied=True)


def list_tokens(state: State, request: Request) -> Response:
    (account,) = request.args
    if not state.may_manage(account):
        return error(403, FORBIDDEN)
    query = request.query
    issued_by = _integer(query, "issued_by") if "issued_by" in query else None
    not_issued_by = _integer(query, "not_issued_by") if "not_issued_by" in query else None
    role = _role(query["role"]) if "role" in query else None
    # Gcore documents `deleted` backwards (True = "not deleted"). The sandbox filters on the real
    # field instead, so a client that trusts the docs gets the wrong tokens here too; clients
    # should leave the flag out and filter on each token's `deleted` and `expired` fields.
    deleted = _boolean(query["deleted"], "deleted") if "deleted" in query else None
    tokens = [
        shapes.token(view)
        for view in state.tokens(account)
        if (issued_by is None or view.token.user == issued_by)
        and (not_issued_by is None or view.token.user != not_issued_by)
        and (role is None or view.token.role == role)
        and (deleted is None or view.deleted == deleted)
    ]
    return json_response(200, tokens)


def delete_token(state: State, request: Request) -> Response:
    account, token = request.args
    outcome = state.delete_token(account, token)
    if outcome is TokenDelete.FORBIDDEN:
        return error(403, FORBIDDEN)
    if outcome is TokenDelete.NOT_FOUND:
        return error(404, TOKEN_NOT_FOUND)
    return Response(204, applied=True)


# -- routing ----------------------------------------------------------------------------------

ROUTES: tuple[tuple[re.Pattern[str], Mapping[str, Handler]], ...] = (
    (re.compile(r"/iam/clients/me/?"), {"GET": account_details}),
    (re.compile(r"/iam/users/?"), {"GET": list_users}),
    (
        re.compile(r"/iam/clients/(\d+)/client-users/(\d+)/?"),
        {"GET": user_role, "DELETE": revoke_access},
    ),
    (re.compile(r"/iam/v2/clients/(\d+)/tokens/?"), {"GET": list_tokens}),
    (re.compile(r"/iam/v2/clients/(\d+)/tokens/(\d+)/?"), {"DELETE": delete_token}),
)


def route(method: str, path: str) -> tuple[Handler, tuple[int, ...]] | Response:
    """The handler and path parameters for a request, or the 404/405 answer."""
    for pattern, handlers in ROUTES:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        handler = handlers.get(method)
        if handler is None:
            allow = ", ".join(handlers)
            return error(405, f'Method "{method}" not allowed.', (("allow", allow),))
        return handler, tuple(int(group) for group in found.groups())
    return error(404, "Not found.")


def _integer(query: Mapping[str, str], name: str, minimum: int = 0, default: int = 0) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {value}.")
    return value


def _boolean(raw: str, name: str) -> bool:
    lowered = raw.lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise BadRequest(f"{name} must be true or false, got {raw!r}.")


def _role(raw: str) -> str:
    # The spec says "Group's ID" but its example passes a name (role=Engineers): accept both.
    for name, role_id in ROLE_IDS.items():
        if raw in {name, str(role_id)}:
            return name
    raise BadRequest(f"role must be a group id or name, got {raw!r}.")
