"""GET /iam/activity_log/logins (iamGetLastLoginTime): the login history of the key's account.

The spec calls it "Information about the account's last login time" and takes no account
parameter, and each item's `id` is "The account ID": the log belongs to one account, the
key's own (as /iam/clients/me does). So the sandbox lists the logins into the world's
`account` from every user's `logins`, deleted users' included (a revoke does not rewrite
history), newest first; equal times by user id, then in file order. Every item of a page
therefore has the same `id`: a client must not use it as an item key.

Who may read it: an administrator of that account, as for the other account-wide endpoints
(403 otherwise). A world's `activity_log: forbidden` or `not_found` makes it answer 403 or
404 for any key, the "no permission" answers a client must turn into "unknown".

`limit`/`offset` page it as /iam/users is paged (`page_size_max` applies; `next`/`previous`
copy the spec's example URL, without the /iam prefix), except that without `limit` the answer
is still the envelope with every login: the spec documents no plain-array form here.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from offboard.sandbox.exchange import (
    FORBIDDEN,
    Request,
    Response,
    error,
    json_response,
    page_links,
    query_integer,
)
from offboard.sandbox.state import State
from offboard.sandbox.world import Login

NOT_FOUND = "Not found."


def login_history(state: State, request: Request) -> Response:
    world = state.world
    if world.activity_log == "not_found":
        return error(404, NOT_FOUND)
    if world.activity_log == "forbidden" or not state.may_manage(world.account):
        return error(403, FORBIDDEN)
    entries = [
        (login, user.id, index)
        for user in world.users
        for index, login in enumerate(user.logins)
        if login.account == world.account
    ]
    entries.sort(key=lambda entry: (-entry[0].at.timestamp(), entry[1], entry[2]))
    items = [_item(login, user) for login, user, _ in entries]
    offset = query_integer(request.query, "offset", minimum=0, default=0)
    if "limit" in request.query:
        limit = query_integer(request.query, "limit", minimum=1)
    else:
        limit = max(len(items), 1)
    if world.faults.page_size_max is not None:
        limit = min(limit, world.faults.page_size_max)
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"count": len(items)}
    body |= page_links("/activity_log/logins", offset, limit, len(page), len(items))
    body["result"] = page
    return json_response(200, body)


def _item(login: Login, user: int) -> dict[str, Any]:
    """The LastLoginTimeItem schema."""
    at = login.at.astimezone(UTC)
    return {
        "id": login.account,  # "The account ID", says the spec
        "login_at": at.strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ" if at.microsecond else "%Y-%m-%dT%H:%M:%SZ"
        ),
        "ip_address": login.ip,
        "user_agent": login.user_agent,
        "is_successful": login.successful,
        "auth_type": login.auth_type,
        "user": user,
    }
