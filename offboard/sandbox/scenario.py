"""Turn a parsed scenario mapping (a job's `sandbox:` section) into a validated `World`.

Validation is strict: an unknown key or a wrong type is a one-line `SandboxError` naming the
origin and the offending key, because a silently ignored typo (`eror_rate`) would make a test
scenario quietly test nothing. The checks of single values are in checks.py; this module
knows the scenario's shape; its `faults:` section is scenario_faults.py's, the rate limiter's
spec scenario_limits.py's, the login history scenario_logins.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from offboard.sandbox.checks import describe, join
from offboard.sandbox.scenario_faults import FaultsReader
from offboard.sandbox.scenario_logins import read_activity_log, read_logins
from offboard.sandbox.world import (
    DEFAULT_API_KEY,
    LANGUAGES,
    ROLE_IDS,
    Account,
    Token,
    User,
    World,
)


def load_world(mapping: object, origin: str = "sandbox") -> World:
    """Validate `mapping` and build a World; raise SandboxError("<origin>: <key>: <problem>")."""
    return _Reader(origin).world(mapping)


class _Reader(FaultsReader):
    """The scenario's sections, each read into its part of the World."""

    def world(self, value: object) -> World:
        top = self.mapping(
            value,
            "",
            frozenset({"account", "key_user", "accounts", "users"}),
            frozenset({"api_key", "faults", "activity_log"}),
        )
        api_key = self.string(top.get("api_key", DEFAULT_API_KEY), "api_key")
        if any(ch.isspace() for ch in api_key):
            self.fail("api_key", "must not contain whitespace (it travels in a header)")
        accounts = self.accounts(top["accounts"])
        users = self.users(top["users"], {a.id for a in accounts})
        account = self.integer(top["account"], "account")
        if account not in {a.id for a in accounts}:
            self.fail("account", f"{account} is not listed under accounts")
        key_user = self.integer(top["key_user"], "key_user")
        by_id = {u.id: u for u in users}
        if key_user not in by_id:
            self.fail("key_user", f"{key_user} is not listed under users")
        if account not in by_id[key_user].roles:
            self.fail("key_user", f"user {key_user} must be a member of account {account}")
        faults = self.faults(top.get("faults", {}), set(by_id))
        activity_log = read_activity_log(self, top.get("activity_log", "allowed"))
        return World(api_key, account, key_user, accounts, users, faults, activity_log)

    def accounts(self, value: object) -> tuple[Account, ...]:
        items = self.sequence(value, "accounts")
        if not items:
            self.fail("accounts", "at least one account is needed")
        seen: set[int] = set()
        result = []
        for index, item in enumerate(items):
            where = f"accounts[{index}]"
            raw = self.mapping(item, where, frozenset({"id", "name"}), frozenset())
            account_id = self.integer(raw["id"], f"{where}.id", minimum=1)
            if account_id in seen:
                self.fail(f"{where}.id", f"duplicate account id {account_id}")
            seen.add(account_id)
            result.append(Account(account_id, self.string(raw["name"], f"{where}.name")))
        return tuple(result)

    def users(self, value: object, accounts: set[int]) -> tuple[User, ...]:
        seen_ids: set[int] = set()
        seen_emails: set[str] = set()
        seen_tokens: set[int] = set()
        result = []
        for index, item in enumerate(self.sequence(value, "users")):
            where = f"users[{index}]"
            raw = self.mapping(
                item,
                where,
                frozenset({"id", "email", "roles"}),
                frozenset({"name", "lang", "tokens", "logins"}),
            )
            user_id = self.integer(raw["id"], f"{where}.id", minimum=1)
            if user_id in seen_ids:
                self.fail(f"{where}.id", f"duplicate user id {user_id}")
            seen_ids.add(user_id)
            email = self.string(raw["email"], f"{where}.email")
            if "@" not in email or any(ch.isspace() for ch in email):
                self.fail(f"{where}.email", f"not an email address: {email!r}")
            # Gcore treats emails case-insensitively, so two spellings would be one person.
            if email.casefold() in seen_emails:
                self.fail(f"{where}.email", f"duplicate email {email!r} (case-insensitive)")
            seen_emails.add(email.casefold())
            name = raw.get("name")
            if name is not None:
                name = self.string(name, f"{where}.name")
            roles = self.roles(raw["roles"], f"{where}.roles", accounts)
            tokens = self.tokens(
                raw.get("tokens", []), f"{where}.tokens", user_id, roles, accounts, seen_tokens
            )
            logins = read_logins(self, raw.get("logins", []), f"{where}.logins", accounts)
            lang = self.string(raw.get("lang", "en"), f"{where}.lang")
            if lang not in LANGUAGES:
                self.fail(f"{where}.lang", f"one of {', '.join(LANGUAGES)}, not {lang!r}")
            result.append(User(user_id, email, name, MappingProxyType(roles), tokens, logins, lang))
        return tuple(result)

    def roles(self, value: object, where: str, accounts: set[int]) -> dict[int, str]:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping of account id to group, got {describe(value)}")
        if not value:
            # Gcore deletes a user with no account, so such a user cannot exist.
            self.fail(where, "a user needs at least one account")
        roles: dict[int, str] = {}
        for key, role in value.items():
            # JSON (and quoted YAML) keys are strings; accept "1000" as well as 1000.
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            account_id = self.integer(key, f"{where} key")
            if account_id not in accounts:
                self.fail(join(where, account_id), "account is not listed under accounts")
            # isinstance first: a list or mapping here is unhashable, and may be an alias bomb.
            if not isinstance(role, str) or role not in ROLE_IDS:
                choices = ", ".join(ROLE_IDS)
                shown = repr(role) if isinstance(role, str) else describe(role)
                self.fail(join(where, account_id), f"unknown group {shown} (one of: {choices})")
            roles[account_id] = role
        return roles

    def tokens(
        self,
        value: object,
        where: str,
        user_id: int,
        roles: Mapping[int, str],
        accounts: set[int],
        seen: set[int],
    ) -> tuple[Token, ...]:
        result = []
        for index, item in enumerate(self.sequence(value, where)):
            at = f"{where}[{index}]"
            raw = self.mapping(
                item,
                at,
                frozenset({"id", "account"}),
                frozenset({"name", "description", "expired", "deleted"}),
            )
            token_id = self.integer(raw["id"], f"{at}.id", minimum=1)
            if token_id in seen:
                self.fail(f"{at}.id", f"duplicate token id {token_id}")
            seen.add(token_id)
            account_id = self.integer(raw["account"], f"{at}.account")
            if account_id not in accounts:
                self.fail(f"{at}.account", f"{account_id} is not listed under accounts")
            expired = self.boolean(raw.get("expired", False), f"{at}.expired")
            deleted = self.boolean(raw.get("deleted", False), f"{at}.deleted")
            if not (expired or deleted) and account_id not in roles:
                # Gcore refuses to remove a user with live tokens, so this state is impossible.
                self.fail(at, f"a live token needs the user to be a member of {account_id}")
            name = self.string(raw.get("name", f"token-{token_id}"), f"{at}.name")
            description = raw.get("description", "")
            if not isinstance(description, str):
                self.fail(f"{at}.description", f"expected a string, got {describe(description)}")
            role = roles.get(account_id, "Users")
            result.append(
                Token(token_id, account_id, user_id, name, description, expired, deleted, role)
            )
        return tuple(result)
