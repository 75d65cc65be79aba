"""The simulated Gcore IAM endpoints: a regex route table and one plain function per endpoint.

The invite (invite.py) and the login history (activity.py) live in their own modules.

Handlers are synchronous and fault-free: they read or change the State and return a Response.
Auth, faults, latency and logging are the app's business (app.py), except the read faults
(`read_lag`, `read_lie`), which live in the State's membership views that the reads here use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from offboard.sandbox import shapes
from offboard.sandbox.activity import login_history
from offboard.sandbox.exchange import (
    FORBIDDEN,
    BadRequest,
    Request,
    Response,
    error,
    json_response,
    page_links,
    parse_query,
    query_integer,
)
from offboard.sandbox.invite import invite_user
from offboard.sandbox.state import State
from offboard.sandbox.state_values import Revoke, TokenDelete
from offboard.sandbox.world import ROLE_IDS

NOT_MEMBER = "User is not found in the specified account."
HAS_TOKENS = "You can't remove the user as they have active tokens"
TOKEN_NOT_FOUND = "API token not found."

Handler = Callable[[State, Request], Response]

# Re-exported: app.py and tests reach these through this module.
__all__ = [
    "FORBIDDEN",
    "BadRequest",
    "Request",
    "Response",
    "error",
    "json_response",
    "parse_query",
    "route",
]


# -- handlers ---------------------------------------------------------------------------------


def account_details(state: State, request: Request) -> Response:
    world = state.world
    return json_response(200, shapes.client_base(world, state.members(world.account)))


def list_users(state: State, request: Request) -> Response:
    world = state.world
    members = list(state.visible_users())
    if "limit" not in request.query:
        # Documented Gcore behaviour, and a trap: without `limit` there is no envelope at all.
        return json_response(200, [shapes.user(world, member) for member in members])
    limit = query_integer(request.query, "limit", minimum=1)
    offset = query_integer(request.query, "offset", minimum=0, default=0)
    if world.faults.page_size_max is not None:
        limit = min(limit, world.faults.page_size_max)
    # Only the page's users are shaped: shaping all of them for every page made reading
    # 3,000 users cost the sandbox 0.6 s of CPU.
    page = [shapes.user(world, member) for member in members[offset : offset + limit]]
    # The missing /iam prefix copies the spec's own example URL.
    body: dict[str, Any] = {"count": len(members)}
    body |= page_links("/users", offset, limit, len(page), len(members))
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
    issued_by = query_integer(query, "issued_by") if "issued_by" in query else None
    not_issued_by = query_integer(query, "not_issued_by") if "not_issued_by" in query else None
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
    (re.compile(r"/iam/clients/invite_user/?"), {"POST": invite_user}),
    (re.compile(r"/iam/activity_log/logins/?"), {"GET": login_history}),
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
