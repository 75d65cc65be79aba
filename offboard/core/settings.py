"""Settings of one run: defaults < job file < command line, checked once.

Every bad value is a SettingsError naming where it came from (`--rate`, or
`jobs/x.yaml: rate`), so the person knows what to fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .defaults import (
    DEFAULT_ACTIVE_DAYS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_REVOCATIONS,
    DEFAULTS,
    MAX_ACTIVE_DAYS,
)
from .errors import SettingsError


@dataclass(frozen=True, slots=True)
class Protection:
    """Users never to revoke: the key's own user, and the protected IDs and emails."""

    own_user: int | None = None
    ids: frozenset[int] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, values: Iterable[object], where: str) -> Protection:
        """From `--protect` values or a job's `protect:` list (IDs or emails)."""
        ids: set[int] = set()
        emails: set[str] = set()
        for value in values:
            text = str(value).strip() if isinstance(value, (int, str)) else ""
            if isinstance(value, bool) or not text:
                raise SettingsError(f"{where}: each entry must be a user ID or an email")
            if text.isdigit() and int(text) > 0:
                ids.add(int(text))
            elif "@" in text and " " not in text:
                emails.add(text.lower())
            else:
                raise SettingsError(f"{where}: {text!r} is neither a user ID nor an email")
        return cls(None, frozenset(ids), frozenset(emails))

    def merged(self, other: Protection) -> Protection:
        return Protection(
            self.own_user if self.own_user is not None else other.own_user,
            self.ids | other.ids,
            self.emails | other.emails,
        )

    def merged_own(self, own_user: int | None) -> Protection:
        """The same protection, plus the key's own user."""
        return Protection(own_user, self.ids, self.emails)


class Secret:
    """A string that never shows itself: repr, str and format all print ***."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to talk to the API."""

    base_url: str
    api_key: Secret
    rate: float
    concurrency: int
    max_attempts: int
    timeout: float
    max_consecutive_failures: int = int(DEFAULTS["max_consecutive_failures"])


def merge(job: Mapping[str, Any], cli: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """The numeric settings, checked: the command line wins over the job file."""
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        if cli.get(key) is not None:
            value, where = cli[key], f"--{key.replace('_', '-')}"
        elif key in job:
            value, where = job[key], f"{origin}: {key}"
        else:
            value, where = default, key
        merged[key] = _check_number(key, value, where)
    return merged


def _check_number(key: str, value: Any, where: str) -> float | int:
    whole = key in ("concurrency", "max_attempts", "max_consecutive_failures")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a whole number" if whole else "a number"
        raise SettingsError(f"{where}: must be {kind}, found {type(value).__name__}")
    if whole and value != int(value):
        raise SettingsError(f"{where}: must be a whole number, found {value}")
    if not value > 0 or value != value or value == float("inf"):
        raise SettingsError(f"{where}: must be greater than 0, found {value}")
    limits = {
        "concurrency": 1000,
        "max_attempts": 100,
        "rate": 10000,
        "timeout": 3600,
        "max_consecutive_failures": 1_000_000,
    }
    if value > limits[key]:
        raise SettingsError(f"{where}: {value} is above the most offboard allows ({limits[key]})")
    return int(value) if whole else float(value)


def chosen_base_url(given: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """--base-url, else GCORE_BASE_URL, else the default: for `run`, `plan` and `restore`."""
    if given is not None:
        return check_base_url(given, "--base-url")
    if environ.get("GCORE_BASE_URL"):
        return check_base_url(environ["GCORE_BASE_URL"], "GCORE_BASE_URL")
    return DEFAULT_BASE_URL


# A URL httpx's parser gives back unchanged: lower-case scheme and host name (no IDNA
# label), a port without leading zeros, a path without dot segments or escapes, nothing else.
_PLAIN_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)"
    r"(?::(?P<port>[1-9][0-9]{0,4}))?(?P<path>(?:/[A-Za-z0-9_~-]*)*)"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def check_base_url(url: str, where: str) -> str:
    """https anywhere; plain http only to loopback, so the key never crosses a network bare.

    A plain URL (_PLAIN_URL) is checked as it is: importing httpx for its parser costs ~0.1 s
    of CPU (its command-line extras come with it), more than a run's look-ups, and the hot
    path never needs it. Any other URL goes through httpx's parser, which normalises it
    (case, default port, IDNA, dot segments) or refuses it; tests/test_settings.py holds
    that both give the same answer."""
    plain = _PLAIN_URL.fullmatch(url)
    if (
        plain is not None
        and "xn--" not in plain["host"]
        and plain["port"] != _DEFAULT_PORTS[plain["scheme"]]
        and int(plain["port"] or 1) <= 65535
    ):
        if plain["scheme"] == "http" and not is_loopback(plain["host"]):
            raise SettingsError(
                f"{where}: plain http:// is refused for {plain['host']}: use https:// "
                "(http is allowed only for loopback hosts)"
            )
        return url.rstrip("/")
    import httpx  # only for an unusual URL (see above): it is not cheap

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise SettingsError(f"{where}: not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SettingsError(f"{where}: must be an https:// URL (http:// only for loopback)")
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise SettingsError(f"{where}: must not carry credentials, a query or a fragment")
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        raise SettingsError(
            f"{where}: plain http:// is refused for {parsed.host}: use https:// "
            "(http is allowed only for loopback hosts)"
        )
    return str(parsed).rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_api_key(key_file: str | None, environ: Mapping[str, str] = os.environ) -> Secret:
    """The key from --api-key-file, else GCORE_API_KEY; messages never include it."""
    if key_file is not None:
        where = f"--api-key-file {key_file}"
        try:
            raw = Path(key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise SettingsError(f"{where}: cannot read the key: {reason}") from None
    elif environ.get("GCORE_API_KEY"):
        where, raw = "GCORE_API_KEY", environ["GCORE_API_KEY"]
    else:
        raise SettingsError("no API key: set GCORE_API_KEY or pass --api-key-file PATH")
    key = raw.strip()
    if key.lower().startswith("apikey "):
        key = key[len("apikey ") :].strip()
    if not key:
        raise SettingsError(f"{where}: the API key is empty")
    if any(c.isspace() or not c.isprintable() or ord(c) > 126 for c in key):
        raise SettingsError(
            f"{where}: the API key contains spaces, line breaks or non-ASCII characters"
        )
    return Secret(key)


def redact(text: str, secret: Secret | None) -> str:
    """Text with the key (and its secret part after `_` or `$`) blanked out."""
    if secret is None:
        return text
    key = secret.reveal()
    for part in (key, *_secret_parts(key)):
        if len(part) >= 6:
            text = text.replace(part, "***")
    return text


def _secret_parts(key: str) -> list[str]:
    for separator in ("_", "$"):
        if separator in key:
            return [key.split(separator, 1)[1]]
    return []


@dataclass(frozen=True, slots=True)
class Guarding:
    """The guard settings of a run, merged from the job file and the command line."""

    protection: Protection
    max_revocations: int
    delete_tokens: bool
    active_days: int = DEFAULT_ACTIVE_DAYS  # warn of logins this recent without a leave_date


def merge_guards(
    job: Mapping[str, Any],
    protect: tuple[str, ...],
    max_revocations: int | None,
    delete_tokens: bool,
    origin: str,
    active_days: int | None = None,
) -> Guarding:
    """Protected users add up (job and command line); the command line wins for the rest."""
    listed = job.get("protect", [])
    if not isinstance(listed, list):
        raise SettingsError(f"{origin}: protect: must be a list of user IDs or emails")
    protection = Protection.parse(listed, f"{origin}: protect").merged(
        Protection.parse(protect, "--protect")
    )
    if max_revocations is not None:
        cap, where = max_revocations, "--max-revocations"
    else:
        cap = job.get("max_revocations", DEFAULT_MAX_REVOCATIONS)
        where = f"{origin}: max_revocations"
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise SettingsError(f"{where}: must be a whole number, 0 or more")
    from_job = job.get("delete_tokens", False)
    if not isinstance(from_job, bool):
        raise SettingsError(f"{origin}: delete_tokens: must be true or false")
    if active_days is None:
        active_days = job.get("active_days", DEFAULT_ACTIVE_DAYS)
        if (
            isinstance(active_days, bool)
            or not isinstance(active_days, int)
            or not (0 <= active_days <= MAX_ACTIVE_DAYS)
        ):
            raise SettingsError(
                f"{origin}: active_days: must be a whole number of days, 0 to {MAX_ACTIVE_DAYS}"
            )
    return Guarding(protection, cap, delete_tokens or from_job, active_days)
