"""The mutable side of a running sandbox: memberships, removals, invites and token deletions.

Only the server's event loop mutates a State, but tests read it from their own thread while the
server runs, so every access goes through one lock and returns copies, never live containers.

Each removal is recorded (when, by the state's clock, and the group it had; a deleted user's
record stays in `_users`), so the membership reads can apply the world's `read_lag` and
`read_lie` faults. Writes and the ground-truth queries always see the real memberships.

The values it hands out (what each mutation did, and the views it copies out) are in
state_values.py.

An invite adds a live user (matched by e-mail, case-insensitively) to an account, or creates a
user with an id above every id ever used, so a deleted user's id never comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from offboard.sandbox.state_values import (
    Invitation,
    Invite,
    Invited,
    Member,
    Removal,
    Revoke,
    TokenDelete,
    TokenView,
)
from offboard.sandbox.world import ADMIN_ROLE, Token, User, World


class State:
    def __init__(self, world: World, clock: Callable[[], float] = time.monotonic) -> None:
        self.world = world
        self._clock = clock
        self._lock = threading.Lock()
        self._users = {user.id: user for user in world.users}
        self._roles = {user.id: dict(user.roles) for user in world.users}
        self._tokens = {token.id: token for user in world.users for token in user.tokens}
        self._deleted_tokens = {t.id for t in self._tokens.values() if t.deleted}
        self._removed: dict[int, dict[int, Removal]] = {}  # user -> account -> removal
        self._invites: list[Invitation] = []
        # The listing, kept between reads while nothing changed: a client reads it a page at a
        # time, and recomputing every user's memberships per page cost the sandbox 19 ms a page
        # of a 3,000-user list. Not kept under read_lag, whose answer moves with the clock.
        self._changes = 0
        self._listed: tuple[int, list[Member]] | None = None

    # -- ground truth (any thread) ----------------------------------------------------------------

    def has_access(self, account: int, user: int) -> bool:
        with self._lock:
            return account in self._roles.get(user, {})

    def user_exists(self, user: int) -> bool:
        # Gcore deletes a user when the revoke of their last account succeeds.
        with self._lock:
            return bool(self._roles.get(user))

    def live_tokens(self, account: int, user: int) -> list[int]:
        with self._lock:
            return self._live_tokens(account, user)

    def may_manage(self, account: int) -> bool:
        with self._lock:
            return self._may_manage(account)

    def role(self, account: int, user: int) -> str | None:
        with self._lock:
            return self._roles.get(user, {}).get(account)

    # -- views for the API ------------------------------------------------------------------------

    def visible_users(self) -> list[Member]:
        """Users who belong to at least one account the key administers, by id, as membership
        reads show them: with the removals `read_lag` or `read_lie` still shows, a deleted
        user included."""
        with self._lock:
            if self._listed is not None and self._listed[0] == self._changes:
                return self._listed[1]
            managed = {a.id for a in self.world.accounts if self._may_manage(a.id)}
            now = self._clock()
            shown = ((user_id, self._shown_roles(user_id, now)) for user_id in sorted(self._roles))
            listed = [
                Member(self._users[user_id], tuple(sorted(roles.items())))
                for user_id, roles in shown
                if managed & roles.keys()
            ]
            if not self.world.faults.read_lag:
                self._listed = (self._changes, listed)
            return listed

    def shown_role(self, account: int, user: int) -> str | None:
        """The user's group in `account` as membership reads show it (see visible_users)."""
        with self._lock:
            return self._shown_roles(user, self._clock()).get(account)

    def members(self, account: int) -> list[Member]:
        with self._lock:
            return [
                self._member(user_id)
                for user_id in sorted(self._roles)
                if account in self._roles[user_id]
            ]

    def tokens(self, account: int) -> list[TokenView]:
        with self._lock:
            return [
                TokenView(token, self._users[token.user], token.id in self._deleted_tokens)
                for token in sorted(self._tokens.values(), key=lambda t: t.id)
                if token.account == account
            ]

    # -- mutations --------------------------------------------------------------------------------

    def revoke(self, account: int, user: int) -> Revoke:
        # One lock for the checks and the change, so the answer matches what was applied.
        with self._lock:
            if not self._may_manage(account):
                return Revoke.FORBIDDEN
            roles = self._roles.get(user, {})
            if account not in roles:
                return Revoke.NOT_MEMBER
            if self._live_tokens(account, user):
                return Revoke.HAS_TOKENS
            role = roles.pop(account)
            self._changes += 1
            removal = Removal(self._clock(), role, user_deleted=not roles)
            self._removed.setdefault(user, {})[account] = removal
            return Revoke.REVOKED

    def invite(self, account: int, email: str, role: str, name: str | None, lang: str) -> Invited:
        """Add the live user with `email` to `account`, or create one; `name` and `lang` are
        for a new user only (an existing user keeps theirs)."""
        with self._lock:
            if not self._may_manage(account):
                return Invited(Invite.FORBIDDEN, None)
            wanted = email.casefold()
            user = next(
                (
                    u
                    for u in self._users.values()
                    if self._roles[u.id] and u.email.casefold() == wanted
                ),
                None,
            )
            if user is not None and account in self._roles[user.id]:
                return Invited(Invite.ALREADY_MEMBER, user.id)
            if user is None:
                # Above every id ever used, deleted users' included: ids are never reused.
                user = User(
                    max(self._users) + 1,
                    email,
                    name,
                    MappingProxyType({account: role}),
                    (),
                    lang=lang,
                    activated=False,
                )
                self._users[user.id] = user
                self._roles[user.id] = {}
            new_user = not self._roles[user.id]
            self._roles[user.id][account] = role
            self._changes += 1
            self._invites.append(Invitation(account, user.id, email, role, new_user))
            return Invited(Invite.CREATED if new_user else Invite.ADDED, user.id)

    def delete_token(self, account: int, token_id: int) -> TokenDelete:
        with self._lock:
            if not self._may_manage(account):
                return TokenDelete.FORBIDDEN
            token = self._tokens.get(token_id)
            if token is None or token.account != account or not self._is_live(token):
                return TokenDelete.NOT_FOUND
            self._deleted_tokens.add(token_id)
            return TokenDelete.DELETED

    # -- debugging --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain JSON data, for GET /_sandbox/state."""
        with self._lock:
            now = self._clock()
            return {
                "account": self.world.account,
                "key_user": self.world.key_user,
                "accounts": [
                    {"id": a.id, "name": a.name, "key_may_manage": self._may_manage(a.id)}
                    for a in self.world.accounts
                ],
                "users": [  # the world's users in its order, then those invites created
                    {
                        "id": user.id,
                        "email": user.email,
                        "name": user.name,
                        "exists": bool(self._roles[user.id]),
                        "memberships": {str(a): r for a, r in sorted(self._roles[user.id].items())},
                    }
                    for user in self._users.values()
                ],
                "tokens": [
                    {
                        "id": t.id,
                        "account": t.account,
                        "user": t.user,
                        "name": t.name,
                        "expired": t.expired,
                        "deleted": t.id in self._deleted_tokens,
                        "live": self._is_live(t),
                    }
                    for t in sorted(self._tokens.values(), key=lambda t: t.id)
                ],
                "removals": [
                    {
                        "account": account,
                        "user": user,
                        "role": removal.role,
                        "user_deleted": removal.user_deleted,
                        "reads_still_show": self.world.faults.still_shown(user, removal.at, now),
                    }
                    for user, removed in sorted(self._removed.items())
                    for account, removal in sorted(removed.items())
                ],
                "invites": [  # in the order they were applied
                    {
                        "account": i.account,
                        "user": i.user,
                        "email": i.email,
                        "role": i.role,
                        "new_user": i.new_user,
                    }
                    for i in self._invites
                ],
            }

    # -- helpers (caller holds the lock) ----------------------------------------------------------

    def _may_manage(self, account: int) -> bool:
        return self._roles.get(self.world.key_user, {}).get(account) == ADMIN_ROLE

    def _is_live(self, token: Token) -> bool:
        return not token.expired and token.id not in self._deleted_tokens

    def _live_tokens(self, account: int, user: int) -> list[int]:
        return sorted(
            t.id
            for t in self._tokens.values()
            if t.account == account and t.user == user and self._is_live(t)
        )

    def _member(self, user_id: int) -> Member:
        return Member(self._users[user_id], tuple(sorted(self._roles[user_id].items())))

    def _shown_roles(self, user: int, now: float) -> dict[int, str]:
        """The user's real memberships plus the removed ones the read faults still show."""
        shown = dict(self._roles.get(user, {}))
        faults = self.world.faults
        for account, removal in self._removed.get(user, {}).items():
            if faults.still_shown(user, removal.at, now):
                shown.setdefault(account, removal.role)
        return shown
