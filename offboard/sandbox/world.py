"""The immutable description of a sandbox world: who exists, where, and which faults to inject.

A `World` is a validated scenario, never mutated. Each running `Sandbox` builds its own mutable
`State` from it, so one world (say `demo_world()`) can back many sandboxes, one per test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

# Gcore's five IAM groups and their ids, as listed in the spec's `Group` schema.
ROLE_IDS: Mapping[str, int] = MappingProxyType(
    {
        "Administrators": 1,
        "Users": 2,
        "Engineers": 5,
        "Purge and Prefetch only (API+Web)": 3009,
        "Purge and Prefetch only (API)": 3022,
    }
)
ADMIN_ROLE = "Administrators"
LANGUAGES = ("de", "en", "ru", "zh", "az")  # the spec's `Language` enum
ACTIVITY_LOG_ANSWERS = ("allowed", "forbidden", "not_found")  # a world's `activity_log`
DEFAULT_API_KEY = "sandbox_demo_key"


class SandboxError(Exception):
    """A scenario that cannot be loaded, or a sandbox that cannot start. The message is one line."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    account: int
    user: int
    name: str
    description: str
    expired: bool
    deleted: bool
    # The issuer's group in `account` when the scenario was loaded: Gcore reports the token's
    # role, which does not change when the issuer is later removed.
    role: str


@dataclass(frozen=True, slots=True)
class Login:
    """One entry of the login history GET /iam/activity_log/logins reports."""

    at: datetime  # timezone-aware
    account: int  # the account logged in to: the log is per account
    ip: str
    user_agent: str
    successful: bool
    auth_type: str


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str | None
    roles: Mapping[int, str]  # account id -> group name
    tokens: tuple[Token, ...]
    logins: tuple[Login, ...] = ()
    lang: str = "en"
    # False for a user an invite created: they have not yet followed the e-mailed link.
    activated: bool = True


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer sent instead of handling the request (nothing is applied)."""

    status: int
    retry_after: int | str | None = None  # text: the header's raw value, garbage or a date
    retry_after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Drop:
    """Apply the request, then close the connection before the body is sent."""


@dataclass(frozen=True, slots=True)
class Delay:
    """Apply the request, then wait before answering normally (to outlast a client timeout)."""

    seconds: float


Scripted = Reply | Drop | Delay

# A world's `rate_limit`: N (a sliding 1 s window of N) or a limiter model's checked spec
# (limiters.limiter_from_spec), e.g. {"shape": "token_bucket", "rate": 20.0, "burst": 5.0}.
RateLimit = int | Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Faults:
    """What a world injects (its `faults:` mapping); every fault is off by default.

    Most faults answer requests wrongly (latency, 5xx, drops, 429, scripted answers, a wrong
    `currentUser`). The read faults instead make membership reads, GET
    /iam/clients/{account}/client-users/{user} and GET /iam/users, contradict the writes: a
    membership a revoke removed (with the user, if it was their last account) is still shown,
    with its old group, for `read_lag` seconds (eventual consistency), or forever for the users
    `read_lie` names (a broken or cached backend). Writes, /iam/clients/me and the token list
    always tell the truth, so a second DELETE still answers 404.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit: RateLimit | None = None
    retry_after: int = 1
    page_size_max: int | None = None
    seed: int = 0
    # What GET /iam/clients/me says `currentUser` is, instead of key_user: a broken API.
    current_user: int | None = None
    # (account, user) -> answers consumed one per DELETE of that membership.
    scripted: Mapping[tuple[int, int], tuple[Scripted, ...]] = field(default_factory=dict)
    # Seconds during which membership reads still show a removed membership.
    read_lag: float = 0.0
    # Membership reads never show a removal: True for every user, or the ids of those lied about.
    read_lie: bool | frozenset[int] = False

    def still_shown(self, user: int, removed_at: float, now: float) -> bool:
        """Whether reads still report a membership of `user` removed at `removed_at`."""
        lies = self.read_lie if isinstance(self.read_lie, bool) else user in self.read_lie
        return lies or now - removed_at < self.read_lag


@dataclass(frozen=True, slots=True)
class World:
    api_key: str
    account: int
    key_user: int
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    faults: Faults
    # GET /iam/activity_log/logins for the key: "allowed", or "forbidden" (403) or
    # "not_found" (404), the answers a client without that permission must survive.
    activity_log: str = "allowed"

    def account_name(self, account_id: int) -> str:
        for account in self.accounts:
            if account.id == account_id:
                return account.name
        return ""
