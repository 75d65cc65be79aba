"""Turn a parsed scenario mapping (a job's `sandbox:` section) into a validated `World`.

Validation is strict: an unknown key or a wrong type is a one-line `SandboxError` naming the
origin and the offending key, because a silently ignored typo (`eror_rate`) would make a test
scenario quietly test nothing. The checks of single values are in checks.py; this module
knows the scenario's shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from offboard.sandbox.checks import Checker, describe, join
from offboard.sandbox.limiters import HINTS, SHAPES, limiter_from_spec
from offboard.sandbox.scenario_logins import read_activity_log, read_logins
from offboard.sandbox.world import (
    DEFAULT_API_KEY,
    LANGUAGES,
    ROLE_IDS,
    Account,
    Delay,
    Drop,
    Faults,
    RateLimit,
    Reply,
    Scripted,
    Token,
    User,
    World,
)

# Each limiter shape's keys under `faults.rate_limit` besides `shape` and `hint` (how its
# 429s carry the wait: HINTS, any shape): (required, optional).
_SHAPE_KEYS: dict[object, tuple[frozenset[str], frozenset[str]]] = {
    "token_bucket": (frozenset({"rate"}), frozenset({"burst"})),
    "fixed_window": (frozenset({"rate"}), frozenset()),
    "sliding_window": (frozenset({"rate"}), frozenset()),
    "gcra": (frozenset({"rate"}), frozenset({"tolerance"})),
    "changing": (frozenset({"schedule"}), frozenset({"within", "burst", "tolerance"})),
}


def load_world(mapping: object, origin: str = "sandbox") -> World:
    """Validate `mapping` and build a World; raise SandboxError("<origin>: <key>: <problem>")."""
    return _Reader(origin).world(mapping)


def parse_rate_limit(text: str, origin: str = "--rate-limit") -> RateLimit:
    """The `offboard sandbox --rate-limit SPEC` value, checked like a world's `rate_limit`.

    SPEC is an integer N (a sliding 1 s window of N) or `SHAPE:KEY=VALUE,...`, such as
    `token_bucket:rate=20,burst=5,hint=ms`, `gcra:rate=20,tolerance=0.1` or
    `changing:schedule=0:20/10:5/30:20,within=token_bucket,burst=5` (pairs of from seconds
    and rate, separated by `/`)."""
    reader = _Reader(origin)
    text = text.strip()
    shape, _, rest = text.partition(":")
    try:
        number = int(text)
    except ValueError:
        pass
    else:
        limit = reader.rate_limit(number, "")
        assert limit is not None  # None only for an absent value
        return limit
    if shape.strip() not in _SHAPE_KEYS:
        reader.fail(
            "",
            f"expected an integer or SHAPE:KEY=VALUE,... "
            f"(shapes: {', '.join(SHAPES)}), got {text!r}",
        )
    spec: dict[str, object] = {"shape": shape.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or not key:
            reader.fail("", f"expected KEY=VALUE, got {part!r}")
        spec[key] = _spec_value(key, value.strip(), reader)
    limit = reader.rate_limit(spec, "")
    assert limit is not None
    return limit


def _spec_value(key: str, value: str, reader: _Reader) -> object:
    if key in ("shape", "within", "hint"):
        return value
    if key == "schedule":
        pairs: list[list[object]] = []
        for pair in value.split("/"):
            start, colon, rate = pair.partition(":")
            if not colon:
                reader.fail("schedule", f"expected FROM:RATE pairs separated by /, got {pair!r}")
            pairs.append(
                [_spec_number(start, reader, "schedule"), _spec_number(rate, reader, "schedule")]
            )
        return pairs
    return _spec_number(value, reader, key)


def _spec_number(text: str, reader: _Reader, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        reader.fail(key, f"expected a number, got {text!r}")


class _Reader(Checker):
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

    def faults(self, value: object, users: set[int]) -> Faults:
        raw = self.mapping(
            value,
            "faults",
            frozenset(),
            frozenset(
                {
                    "latency",
                    "error_rate",
                    "drop_rate",
                    "rate_limit",
                    "retry_after",
                    "page_size_max",
                    "seed",
                    "current_user",
                    "scripted",
                    "read_lag",
                    "read_lie",
                }
            ),
        )
        rate_limit = self.rate_limit(raw.get("rate_limit"))
        page_size_max = raw.get("page_size_max")
        if page_size_max is not None:
            page_size_max = self.integer(page_size_max, "faults.page_size_max", minimum=1)
        current_user = raw.get("current_user")
        if current_user is not None:
            # Any integer, 0 and negatives included: those are what a client must refuse.
            current_user = self.integer(current_user, "faults.current_user")
        return Faults(
            latency=self.number(raw.get("latency", 0.0), "faults.latency"),
            error_rate=self.number(raw.get("error_rate", 0.0), "faults.error_rate", maximum=1),
            drop_rate=self.number(raw.get("drop_rate", 0.0), "faults.drop_rate", maximum=1),
            rate_limit=rate_limit,
            retry_after=self.integer(raw.get("retry_after", 1), "faults.retry_after", minimum=0),
            page_size_max=page_size_max,
            seed=self.integer(raw.get("seed", 0), "faults.seed"),
            current_user=current_user,
            scripted=MappingProxyType(self.scripted(raw.get("scripted", []))),
            read_lag=self.number(raw.get("read_lag", 0.0), "faults.read_lag"),
            read_lie=self.read_lie(raw.get("read_lie", False), users),
        )

    def rate_limit(self, value: object, where: str = "faults.rate_limit") -> RateLimit | None:
        """`rate_limit: N` (a sliding 1 s window of N) or a limiter model's mapping, checked
        here key by key and then built once by limiters.py, so a bad one fails at load."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return self.integer(value, where, minimum=1)
        shape = value.get("shape")
        if shape not in _SHAPE_KEYS:
            self.fail(
                join(where, "shape"), f"expected one of {', '.join(SHAPES)}, got {describe(shape)}"
            )
        required, optional = _SHAPE_KEYS[shape]
        raw = self.mapping(value, where, required | {"shape"}, optional | {"hint"})
        spec: dict[str, Any] = {"shape": shape}
        if "hint" in raw:
            hint = raw["hint"]
            # isinstance first: an unhashable list here must fail as a wrong value too.
            if not isinstance(hint, str) or hint not in HINTS:
                self.fail(
                    join(where, "hint"), f"expected one of {', '.join(HINTS)}, got {describe(hint)}"
                )
            spec["hint"] = hint
        for key in ("rate", "burst"):
            if key in raw:
                spec[key] = self.positive(raw[key], join(where, key))
        if "tolerance" in raw:
            spec["tolerance"] = self.number(raw["tolerance"], join(where, "tolerance"))
        if shape == "changing":
            within = raw.get("within", "sliding_window")
            if within not in _SHAPE_KEYS or within == "changing":
                inner = ", ".join(s for s in SHAPES if s != "changing")
                self.fail(join(where, "within"), f"expected one of {inner}, got {describe(within)}")
            spec["within"] = within
            spec["schedule"] = self.schedule(raw["schedule"], join(where, "schedule"))
        try:
            limiter_from_spec(spec)
        except ValueError as exc:  # the checks above should leave none; keep the key's name
            self.fail(where, str(exc))
        return MappingProxyType(spec)

    def schedule(self, value: object, where: str) -> tuple[tuple[float, float], ...]:
        pairs: list[tuple[float, float]] = []
        items = self.sequence(value, where)
        if not items:
            self.fail(where, "expected at least one [from seconds, rate] pair")
        for index, item in enumerate(items):
            at = f"{where}[{index}]"
            if not isinstance(item, list | tuple) or len(item) != 2:
                self.fail(at, f"expected a [from seconds, rate] pair, got {describe(item)}")
            start = self.number(item[0], f"{at}[0]")
            if pairs and start <= pairs[-1][0]:
                self.fail(f"{at}[0]", f"must be later than {pairs[-1][0]:g}, got {start:g}")
            pairs.append((start, self.positive(item[1], f"{at}[1]")))
        return tuple(pairs)

    def positive(self, value: object, where: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(where, f"expected a number, got {describe(value)}")
        number = float(value)
        if not 0 < number < math.inf:  # NaN fails this too
            self.fail(where, f"must be a positive number, got {value}")
        return number

    def read_lie(self, value: object, users: set[int]) -> bool | frozenset[int]:
        where = "faults.read_lie"
        if isinstance(value, bool):
            return value
        if not isinstance(value, list | tuple):
            self.fail(where, f"expected true, false or a list of user ids, got {describe(value)}")
        ids: set[int] = set()
        for index, item in enumerate(value):
            user = self.integer(item, f"{where}[{index}]")
            # A typo here would make the test quietly check a user nobody revokes.
            if user not in users:
                self.fail(f"{where}[{index}]", f"{user} is not listed under users")
            if user in ids:
                self.fail(f"{where}[{index}]", f"duplicate user id {user}")
            ids.add(user)
        return frozenset(ids)

    def scripted(self, value: object) -> dict[tuple[int, int], tuple[Scripted, ...]]:
        result: dict[tuple[int, int], tuple[Scripted, ...]] = {}
        for index, item in enumerate(self.sequence(value, "faults.scripted")):
            where = f"faults.scripted[{index}]"
            keys = frozenset({"account", "user", "responses"})
            raw = self.mapping(item, where, keys, frozenset())
            pair = (
                self.integer(raw["account"], f"{where}.account"),
                self.integer(raw["user"], f"{where}.user"),
            )
            if pair in result:
                self.fail(where, f"account {pair[0]} user {pair[1]} is already scripted")
            answers = self.sequence(raw["responses"], f"{where}.responses")
            result[pair] = tuple(
                self.answer(answer, f"{where}.responses[{n}]") for n, answer in enumerate(answers)
            )
        return result

    def answer(self, value: object, where: str) -> Scripted:
        if value == "drop":
            return Drop()
        if isinstance(value, int) and not isinstance(value, bool):
            return Reply(self.status(value, where))
        if isinstance(value, Mapping) and "delay" in value:
            raw = self.mapping(value, where, frozenset({"delay"}), frozenset())
            return Delay(self.number(raw["delay"], f"{where}.delay"))
        if isinstance(value, Mapping):
            raw = self.mapping(
                value, where, frozenset({"status"}), frozenset({"retry_after", "retry_after_ms"})
            )
            after = raw.get("retry_after")
            after_ms = raw.get("retry_after_ms")
            return Reply(
                self.status(raw["status"], f"{where}.status"),
                None if after is None else self.integer(after, f"{where}.retry_after", 0),
                None if after_ms is None else self.integer(after_ms, f"{where}.retry_after_ms", 0),
            )
        self.fail(
            where,
            f"expected a status code, 'drop', {{status: ...}} or {{delay: ...}}, "
            f"got {describe(value)}",
        )

    def status(self, value: object, where: str) -> int:
        status = self.integer(value, where)
        if not 400 <= status <= 599:
            self.fail(where, f"a scripted status must be an error (400-599), got {status}")
        return status
