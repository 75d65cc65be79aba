"""The world file's login history (each user's `logins`) and its `activity_log` answer.

    users:
      - id: 11
        ...
        logins:
          - {at: 2026-11-30T09:00:00Z, account: 1000}
          - {at: "2026-11-02T18:45:10+01:00", account: 1000, ip: 198.51.100.7,
             user_agent: "curl/8.5", successful: false, auth_type: sso}
    activity_log: forbidden      # allowed (default), forbidden (403) or not_found (404)

`at` is an RFC 3339 time with a zone (YAML's own timestamps count); `ip` an IPv4 or IPv6
address (default 192.0.2.1), `user_agent` any text, `successful` true (default) or false,
`auth_type` any word (default password; the spec's example says OAUTH). Errors are one line
naming the key, as everywhere in scenario.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Set
from datetime import date, datetime

from offboard.sandbox.checks import Checker, describe
from offboard.sandbox.world import ACTIVITY_LOG_ANSWERS, Login

DEFAULT_IP = "192.0.2.1"  # TEST-NET-1: documentation addresses only
DEFAULT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
_ZONE_EXAMPLE = "e.g. 2026-11-30T09:00:00Z"


def read_logins(
    checker: Checker, value: object, where: str, accounts: Set[int]
) -> tuple[Login, ...]:
    result = []
    for index, item in enumerate(checker.sequence(value, where)):
        at = f"{where}[{index}]"
        raw = checker.mapping(
            item,
            at,
            frozenset({"at", "account"}),
            frozenset({"ip", "user_agent", "successful", "auth_type"}),
        )
        account = checker.integer(raw["account"], f"{at}.account")
        if account not in accounts:
            checker.fail(f"{at}.account", f"{account} is not listed under accounts")
        ip = checker.string(raw.get("ip", DEFAULT_IP), f"{at}.ip")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            checker.fail(f"{at}.ip", f"not an IP address: {ip!r}")
        result.append(
            Login(
                at=_moment(checker, raw["at"], f"{at}.at"),
                account=account,
                ip=ip,
                user_agent=checker.string(
                    raw.get("user_agent", DEFAULT_USER_AGENT), f"{at}.user_agent"
                ),
                successful=checker.boolean(raw.get("successful", True), f"{at}.successful"),
                auth_type=checker.string(raw.get("auth_type", "password"), f"{at}.auth_type"),
            )
        )
    return tuple(result)


def read_activity_log(checker: Checker, value: object) -> str:
    # isinstance first: a list here is unhashable.
    if not isinstance(value, str) or value not in ACTIVITY_LOG_ANSWERS:
        checker.fail(
            "activity_log",
            f"expected one of {', '.join(ACTIVITY_LOG_ANSWERS)}, got {describe(value)}",
        )
    return value


def _moment(checker: Checker, value: object, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            checker.fail(where, f"not an RFC 3339 time ({_ZONE_EXAMPLE}): {value!r}")
    elif isinstance(value, date) and not isinstance(value, datetime):
        checker.fail(where, f"a date without a time ({_ZONE_EXAMPLE}): {value}")
    if not isinstance(value, datetime):
        checker.fail(where, f"expected an RFC 3339 time ({_ZONE_EXAMPLE}), got {describe(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        checker.fail(where, f"needs a time zone ({_ZONE_EXAMPLE}): {value.isoformat()}")
    return value
