"""What a handler receives and returns, and the helpers every endpoint module answers with.

Kept apart from endpoints.py so the endpoint modules (endpoints, invite, activity) can share
them without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

FORBIDDEN = "You do not have permission to perform this action."


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    args: tuple[int, ...]  # the integer path parameters, in order
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    applied: bool = False


class BadRequest(Exception):
    """A query parameter that cannot be parsed; answered with 400."""


def json_response(status: int, data: Any, applied: bool = False) -> Response:
    body = json.dumps(data).encode()
    return Response(status, body, (("content-type", "application/json"),), applied)


def error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    response = json_response(status, {"message": message})
    return Response(status, response.body, response.headers + headers)


def parse_query(raw: str) -> dict[str, str]:
    # The last value wins for a repeated parameter, as in Django's QueryDict.get.
    return dict(parse_qsl(raw, keep_blank_values=True))


def query_integer(query: Mapping[str, str], name: str, minimum: int = 0, default: int = 0) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {value}.")
    return value


def page_links(path: str, offset: int, limit: int, shown: int, total: int) -> dict[str, str]:
    """`next`/`previous` for a limit/offset page, left out (not null) where there is none:
    the spec types them as non-nullable strings."""
    links = {}
    if offset + shown < total:
        links["next"] = f"{path}?offset={offset + shown}&limit={limit}"
    if offset > 0:
        links["previous"] = f"{path}?offset={max(offset - limit, 0)}&limit={limit}"
    return links
