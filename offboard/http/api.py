"""The Gcore IAM API as offboard uses it: the endpoints, and their answers read into values.

Each method is one logical request through `Requester.request` (http/requester.py: every
attempt limited, retried and recorded). `make_client`, `Attempt`, `RequestNotSent` and the
rest are re-exported here, so callers build a run's clients and its Api from one module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeGuard

from ..core.directory import Directory
from ..core.models import Exchange, Token
from .connections import Connections
from .exchange import Heard
from .listing import USERS_PAGE, DirectoryError, failure, read_users
from .requester import THROTTLED_SPAN, THROTTLED_STREAK, OnRetry, Requester, RequestNotSent
from .wire import Attempt, make_client

__all__ = [
    "THROTTLED_SPAN",
    "THROTTLED_STREAK",
    "USERS_PAGE",
    "Api",
    "Attempt",
    "Connections",
    "DirectoryError",
    "Heard",
    "OnRetry",
    "RequestNotSent",
    "make_client",
]


class Api(Requester):
    """The endpoints offboard calls; each answer checked before any value is taken from it."""

    async def revoke(self, account: int, user_id: int, suspect: bool = False) -> Exchange:
        """`suspect`: an earlier run may already have sent this revoke (it died in flight)."""
        return await self.request(
            "DELETE", f"/iam/clients/{account}/client-users/{user_id}", suspect=suspect
        )

    async def check_member(self, account: int, user_id: int) -> Exchange:
        return await self.request("GET", f"/iam/clients/{account}/client-users/{user_id}")

    async def whoami(self, heard: Heard | None = None) -> int:
        """The ID of the user behind the API key (`currentUser` of /iam/clients/me); `heard`
        is awaited with each attempt's status once its head is in, before the body (which
        holds the key's whole account: megabytes) is read and decoded."""
        exchange = await self.request("GET", "/iam/clients/me", heard=heard)
        body = exchange.body
        if exchange.status != 200 or not isinstance(body, dict):
            raise DirectoryError(failure("reading /iam/clients/me", exchange))
        user_id = body.get("currentUser")
        if not _is_user_id(user_id):
            # Unknown, not "no one": the guard protecting the key's own user must hold.
            given = "no currentUser" if user_id is None else f"currentUser {_shown(user_id)}"
            raise DirectoryError(
                self._redact(f"/iam/clients/me gave {given}, which is not a user ID")
            )
        return user_id

    async def live_token_details(self, account: int, user_id: int) -> list[Token]:
        """The user's own live API tokens in the account, with their names, by ID.

        The `deleted` query flag is documented backwards, so it is left out and
        each token's fields are checked here; the issuer is checked too, so a
        server that ignored `issued_by` could never make us touch anyone else's.
        """
        exchange = await self.request(
            "GET", f"/iam/v2/clients/{account}/tokens", params={"issued_by": user_id}
        )
        if exchange.status != 200 or not isinstance(exchange.body, list):
            raise DirectoryError(failure("listing the user's API tokens", exchange))
        return sorted(
            (
                Token(
                    token["id"],
                    _text(token.get("name")),
                    _text(token["client_user"].get("user_email")),
                    _text(token.get("exp_date")),
                    _role_name(token["client_user"].get("role")),
                )
                for token in exchange.body
                if isinstance(token, dict)
                and isinstance(token.get("id"), int)
                and not token.get("deleted")
                and not token.get("expired")
                and isinstance(token.get("client_user"), dict)
                and token["client_user"].get("user_id") == user_id
            ),
            key=lambda t: t.id,
        )

    async def invite(self, account: int, email: str, role: int, name: str, lang: str) -> Exchange:
        """Give a user access to an account with a role (`POST /iam/clients/invite_user`):
        an existing user is added; an unknown e-mail becomes a new user with a new ID."""
        body: dict[str, Any] = {"email": email, "client_id": account, "user_role": {"id": role}}
        if name:
            body["name"] = name
        if lang:
            body["lang"] = lang
        return await self.request("POST", "/iam/clients/invite_user", body=body)

    async def delete_token(self, account: int, token_id: int) -> Exchange:
        return await self.request("DELETE", f"/iam/v2/clients/{account}/tokens/{token_id}")

    async def list_users(
        self, request_ids: list[str] | None = None, asked: Callable[[], None] | None = None
    ) -> Directory:
        """Every live user visible to the key (http/listing.py: the pages after the first are read
        at once, and `asked` is called when the first of their answers begins); each page's
        request ID is added to `request_ids` when given."""
        return Directory.joined(
            await read_users(self.request, Directory.from_users, request_ids, asked)
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _role_name(role: Any) -> str:
    """A token's `client_user.role` (a Group: {id, name})."""
    return _text(role.get("name")) if isinstance(role, dict) else ""


def _is_user_id(value: object) -> TypeGuard[int]:
    """A positive integer; 0, negatives, bools and text are not user IDs."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _shown(value: Any) -> str:
    """A JSON value as the API wrote it, cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
