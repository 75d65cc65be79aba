"""Typed checks over parsed YAML or JSON that fail with one line naming the origin and the key.

`Checker` is the base of scenario.py's reader: each check returns the value, narrowed to its
type, or raises `SandboxError("<origin>: <where>: <problem>")`. Values are described with a
bounded repr, never printed whole.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from offboard.sandbox.world import SandboxError

# reprlib, not repr: a YAML alias bomb (billion laughs) loads in microseconds as shared
# lists, but its full repr would take gigabytes. Depth and items are bounded here.
_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 30


def describe(value: object) -> str:
    """A value's type and a bounded repr of it, short enough for a one-line error."""
    text = _SHORT.repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def join(where: str, key: object) -> str:
    """The dotted path of `key` under `where` (`users[0].email`)."""
    return f"{where}.{key}" if where else str(key)


class Checker:
    """Checks of single values, each failing as `SandboxError` under `origin`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, problem: str) -> NoReturn:
        prefix = f"{self.origin}: {where}" if where else self.origin
        raise SandboxError(f"{prefix}: {problem}")

    def mapping(
        self, value: object, where: str, required: frozenset[str], optional: frozenset[str]
    ) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping, got {describe(value)}")
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | optional))
                self.fail(join(where, key), f"unknown key (allowed: {allowed})")
        for key in sorted(required):
            if key not in value:
                self.fail(join(where, key), "required key is missing")
        return value

    def sequence(self, value: object, where: str) -> Sequence[Any]:
        if not isinstance(value, list | tuple):
            self.fail(where, f"expected a list, got {describe(value)}")
        return value

    def integer(self, value: object, where: str, minimum: int | None = None) -> int:
        # bool is an int subclass; `true` where an id belongs is a mistake, not 1.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(where, f"expected an integer, got {describe(value)}")
        if minimum is not None and value < minimum:
            self.fail(where, f"must be >= {minimum}, got {value}")
        return value

    def number(self, value: object, where: str, maximum: float | None = None) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(where, f"expected a number, got {describe(value)}")
        if value != value:  # NaN (YAML `.nan`) passes every comparison below
            self.fail(where, "expected a number, got nan")
        if value < 0 or (maximum is not None and value > maximum):
            bound = f"between 0 and {maximum}" if maximum is not None else ">= 0"
            self.fail(where, f"must be {bound}, got {value}")
        return float(value)

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected a non-empty string, got {describe(value)}")
        return value

    def boolean(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {describe(value)}")
        return value
