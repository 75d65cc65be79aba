"""A scenario's server rate limiter: `faults.rate_limit` in a world file, and the same spec
given as `offboard sandbox --rate-limit SPEC`, checked key by key and built once by
limiters.py, so a bad one fails at load with one line naming the key.

Apart from scenario.py, which knows the world's shape: the limiter spec has two front doors
(a world file and the command line) and one set of rules, kept here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from offboard.sandbox.checks import Checker, describe, join
from offboard.sandbox.limiters import HINTS, SHAPES, limiter_from_spec
from offboard.sandbox.world import RateLimit

# Each limiter shape's keys under `faults.rate_limit` besides `shape` and `hint` (how its
# 429s carry the wait: HINTS, any shape): (required, optional).
SHAPE_KEYS: dict[object, tuple[frozenset[str], frozenset[str]]] = {
    "token_bucket": (frozenset({"rate"}), frozenset({"burst"})),
    "fixed_window": (frozenset({"rate"}), frozenset()),
    "sliding_window": (frozenset({"rate"}), frozenset()),
    "gcra": (frozenset({"rate"}), frozenset({"tolerance"})),
    "changing": (frozenset({"schedule"}), frozenset({"within", "burst", "tolerance"})),
}


def parse_rate_limit(text: str, origin: str = "--rate-limit") -> RateLimit:
    """The `offboard sandbox --rate-limit SPEC` value, checked like a world's `rate_limit`.

    SPEC is an integer N (a sliding 1 s window of N) or `SHAPE:KEY=VALUE,...`, such as
    `token_bucket:rate=20,burst=5,hint=ms`, `gcra:rate=20,tolerance=0.1` or
    `changing:schedule=0:20/10:5/30:20,within=token_bucket,burst=5` (pairs of from seconds
    and rate, separated by `/`)."""
    reader = RateLimitReader(origin)
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
    if shape.strip() not in SHAPE_KEYS:
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


def _spec_value(key: str, value: str, reader: RateLimitReader) -> object:
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


def _spec_number(text: str, reader: RateLimitReader, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        reader.fail(key, f"expected a number, got {text!r}")


class RateLimitReader(Checker):
    """Reads a limiter spec (a mapping, or N for a sliding 1 s window of N)."""

    def rate_limit(self, value: object, where: str = "faults.rate_limit") -> RateLimit | None:
        """`rate_limit: N` (a sliding 1 s window of N) or a limiter model's mapping, checked
        here key by key and then built once by limiters.py, so a bad one fails at load."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return self.integer(value, where, minimum=1)
        shape = value.get("shape")
        if shape not in SHAPE_KEYS:
            self.fail(
                join(where, "shape"), f"expected one of {', '.join(SHAPES)}, got {describe(shape)}"
            )
        required, optional = SHAPE_KEYS[shape]
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
            if within not in SHAPE_KEYS or within == "changing":
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
