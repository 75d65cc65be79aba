"""--delete-tokens, unit level: only the user's own live tokens are deleted, whatever the
tokens listing returns, and a token already gone is not a failure (Revoker over MockTransport)."""

from __future__ import annotations

import random
import re
from typing import Any

import anyio
import httpx

from offboard.core.models import Action, Outcome, Result, Row
from offboard.execute.revoke import Revoker
from offboard.http.api import Api, make_client

from .helpers import FakeClock, routed, settings

ACCOUNT, USER, OTHER = 10, 9, 8
REVOKE = f"/iam/clients/{ACCOUNT}/client-users/{USER}"
TOKENS = f"/iam/v2/clients/{ACCOUNT}/tokens"
HAS_TOKENS = {"message": "You can't remove the user as they have active tokens"}


def token(token_id: int, user_id: int = USER, **flags: bool) -> dict[str, Any]:
    """A TokenResponse as Gcore lists it (live unless flagged)."""
    return {
        "id": token_id,
        "name": f"t{token_id}",
        "deleted": False,
        "expired": False,
        **flags,
        "client_user": {
            "user_id": user_id,
            "client_id": ACCOUNT,
            "deleted": flags.get("deleted", False),
        },
    }


class TokenApi:
    """An IAM API that ignores `issued_by`: the listing holds every token in the account.
    The revoke is refused while any of USER's live tokens is not deleted."""

    def __init__(self, listed: list[dict[str, Any]], token_delete_status: int = 204) -> None:
        self.listed = listed
        self.token_delete_status = token_delete_status
        self.deleted: set[int] = set()
        self.seen: list[httpx.Request] = []

    def blocking(self) -> set[int]:
        return {
            t["id"]
            for t in self.listed
            if t["client_user"]["user_id"] == USER and not t["deleted"] and not t["expired"]
        } - self.deleted

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "DELETE" and path == REVOKE:
            return httpx.Response(403, json=HAS_TOKENS) if self.blocking() else httpx.Response(200)
        if request.method == "GET" and path == TOKENS:
            return httpx.Response(200, json=self.listed)  # issued_by ignored on purpose
        found = re.fullmatch(rf"{TOKENS}/(\d+)", path)
        if request.method == "DELETE" and found:
            self.deleted.add(int(found.group(1)))
            return httpx.Response(self.token_delete_status)
        return httpx.Response(404, json={"message": "Not found."})

    def deletes(self) -> list[str]:
        return [r.url.path for r in self.seen if r.method == "DELETE"]


def revoke(server: TokenApi, delete_tokens: bool = True) -> Result:
    """One row (ACCOUNT, USER) through Revoker against `server`."""
    config = settings(max_attempts=1)
    action = Action(Row(2, str(ACCOUNT), str(USER)), ACCOUNT, USER)

    async def go() -> Result:
        async with make_client(config, routed(server, server.seen)) as client:
            api = Api(config, client, FakeClock(), random.Random(1))
            return await Revoker(delete_tokens=delete_tokens)(action, api)

    return anyio.run(go)


def test_another_users_token_is_never_deleted_when_issued_by_is_ignored() -> None:
    """The listing also returns another user's live token (the server ignored issued_by): only
    the user's own token is deleted, then the revoke is sent again and succeeds."""
    server = TokenApi([token(501), token(777, user_id=OTHER)])
    result = revoke(server)
    assert server.deletes() == [REVOKE, f"{TOKENS}/501", REVOKE]
    assert result.outcome is Outcome.REVOKED and [t.id for t in result.tokens] == [501]
    tokens_query = [r.url.params.get("issued_by") for r in server.seen if r.method == "GET"]
    assert tokens_query == [str(USER)]


def test_another_users_token_is_not_listed_as_blocking_either() -> None:
    """Without --delete-tokens, the row names only the user's own blocking token."""
    server = TokenApi([token(777, user_id=OTHER), token(501)])
    result = revoke(server, delete_tokens=False)
    assert result.outcome is Outcome.TOKEN_BLOCKED and [t.id for t in result.tokens] == [501]
    assert "blocking API tokens: 501 " in result.message and "777" not in result.message
    assert server.deletes() == [REVOKE]


def test_a_token_already_gone_is_not_a_failure() -> None:
    """A token DELETE answered 404 (deleted since it was listed): the revoke is sent again
    and the row is revoked."""
    server = TokenApi([token(501), token(502)], token_delete_status=404)
    result = revoke(server)
    assert server.deletes() == [REVOKE, f"{TOKENS}/501", f"{TOKENS}/502", REVOKE]
    assert result.outcome is Outcome.REVOKED and result.http_status == 200
    assert result.message.startswith("deleted API tokens 501, 502; access removed")


def test_a_token_delete_that_fails_stops_before_the_second_revoke() -> None:
    """A token DELETE answered 500 is a failure: the row stays token_blocked, says which token
    and what was deleted, and the revoke is not sent again."""
    server = TokenApi([token(501)], token_delete_status=500)
    result = revoke(server)
    assert server.deletes() == [REVOKE, f"{TOKENS}/501"]
    assert result.outcome is Outcome.TOKEN_BLOCKED
    assert "could not delete API token 501" in result.message and "deleted: none" in result.message


def test_deleted_and_expired_tokens_are_not_live() -> None:
    """Tokens flagged deleted or expired are neither listed as blocking nor deleted."""
    listed = [token(501), token(502, deleted=True), token(503, expired=True)]
    blocked = revoke(TokenApi(listed), delete_tokens=False)
    assert [t.id for t in blocked.tokens] == [501]
    assert "blocking API tokens: 501 " in blocked.message
    server = TokenApi(listed)
    result = revoke(server)
    assert server.deletes() == [REVOKE, f"{TOKENS}/501", REVOKE]
    assert result.outcome is Outcome.REVOKED and [t.id for t in result.tokens] == [501]


def test_only_dead_tokens_means_none_to_delete() -> None:
    """A 403 about tokens while every listed token is deleted or expired: nothing is deleted,
    and the row says no live token was found."""
    server = TokenApi([token(502, deleted=True), token(503, expired=True)])
    server.blocking = lambda: {502}  # type: ignore[method-assign]  # Gcore still refuses
    result = revoke(server)
    assert server.deletes() == [REVOKE]
    assert result.outcome is Outcome.TOKEN_BLOCKED and result.tokens == ()
    assert "no live token of theirs was found" in result.message
