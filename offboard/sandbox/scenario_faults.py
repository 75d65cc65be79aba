"""A scenario's `faults:` section: latency, error and drop rates, Retry-After, page size,
the key's reported user, scripted answers per (account, user), read lag and read lies.

Apart from scenario.py, which reads the accounts and users: faults are how a test makes the
simulator misbehave on purpose, each checked as strictly, since a mistyped fault would make a
test quietly test nothing. The rate limiter's spec is scenario_limits.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from offboard.sandbox.checks import describe
from offboard.sandbox.scenario_limits import RateLimitReader
from offboard.sandbox.world import Delay, Drop, Faults, Reply, Scripted


class FaultsReader(RateLimitReader):
    """Reads the `faults:` section into `Faults`."""

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
                # Text is sent as it is (a client's reading of garbage and dates is tested so).
                after
                if after is None or isinstance(after, str)
                else self.integer(after, f"{where}.retry_after", 0),
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
