"""PyYAML's safe loader, with plain scalars, for YAML SOURCEs (source/yaml_rows.py).

A module of its own so that only a YAML SOURCE pays for importing PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..core.errors import SourceError


class _Loader(yaml.SafeLoader):
    """Safe YAML with plain scalars: an integer is decimal digits and nothing else.

    PyYAML follows YAML 1.1, where `0101` is octal 65 and `1:41` is base-60 101:
    a user ID written that way would revoke someone the file never named. Dates
    stay text too (an impossible date would otherwise crash the loader).
    """


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    # The stubs take only a ScalarNode; `!!int [1]` brings any node, and PyYAML's own check
    # then raises the ConstructorError that load_yaml turns into a SourceError.
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    # Huge numbers stay text: plan/rows.py reports them as too large for an ID.
    return int(text, 10) if len(text) <= 30 else text


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal)


def load_yaml(text: str, origin: str) -> Any:
    """The document in `text`; anything PyYAML cannot read is a SourceError naming `origin`."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SourceError(f"{origin}: {where}not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{origin}: not valid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise SourceError(f"{origin}: YAML nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a value PyYAML cannot build
        raise SourceError(
            f"{origin}: not valid YAML: a value cannot be read ({type(exc).__name__})"
        ) from None
