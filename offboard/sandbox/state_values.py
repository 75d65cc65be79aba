"""The values a sandbox State hands out: what each mutation did (`Revoke`, `Invited`,
`TokenDelete`) and the copies its views return (`Member`, `TokenView`), plus the records it
keeps of removals and invites.

Apart from state.py, which holds the lock and the live containers: these are frozen values,
safe to pass to the endpoints and to a test's thread, and the endpoints match on them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from offboard.sandbox.world import Token, User


class Revoke(enum.Enum):
    FORBIDDEN = "forbidden"
    NOT_MEMBER = "not_member"
    HAS_TOKENS = "has_tokens"
    REVOKED = "revoked"


class Invite(enum.Enum):
    FORBIDDEN = "forbidden"
    ALREADY_MEMBER = "already_member"
    ADDED = "added"  # an existing user joined the account
    CREATED = "created"  # a new user, with a new id


@dataclass(frozen=True, slots=True)
class Invited:
    outcome: Invite
    user: int | None  # the invited (or already member) user; None when forbidden


@dataclass(frozen=True, slots=True)
class Invitation:
    """An invite that changed state, for the snapshot."""

    account: int
    user: int
    email: str
    role: str
    new_user: bool


class TokenDelete(enum.Enum):
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Member:
    """A user as seen at one moment: who they are and the accounts they belong to."""

    user: User
    roles: tuple[tuple[int, str], ...]  # (account id, group name), sorted by account


@dataclass(frozen=True, slots=True)
class Removal:
    """A membership a revoke removed: when (the state's clock) and the group it had."""

    at: float
    role: str
    user_deleted: bool  # it was the user's last account, so Gcore deleted the user


@dataclass(frozen=True, slots=True)
class TokenView:
    token: Token
    issuer: User
    deleted: bool
