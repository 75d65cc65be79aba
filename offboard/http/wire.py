"""The wire: one attempt over a run's connections (http/connections.py) read into an `Attempt`.

`send` never raises for HTTP or network trouble: a refused connection, a lost
answer or any status becomes an `Attempt`, and http/api.py decides what to do with
it (retry, give up, abort the run). Nothing here limits, retries or counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ..core.settings import Settings, redact
from .connections import Connections
from .exchange import Heard, Lost, Unanswered
from .retry import RETRY_STATUSES, read_retry_after

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt. `reached` means the API may have acted on it."""

    status: int | None
    reached: bool
    message: str = ""
    error: str = ""
    request_id: str = ""
    retry_after: float | None = None
    body: Any = None
    timed_out: bool = False
    ignored_hint: str = ""  # an unusable Retry-After, named for the retry's note

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES

    @property
    def may_have_acted(self) -> bool:
        """Sent with no clear refusal: a lost answer or a 5xx may follow a change."""
        return self.reached and (self.status is None or self.status >= 500)


def make_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> Connections:
    """The HTTP connections of a run: key in a header, no redirects."""
    return Connections(settings, transport)


async def send(
    client: Connections,
    settings: Settings,
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    body: Any = None,
    heard: Heard | None = None,
) -> Attempt:
    """One attempt, its answer (or its failure) read into an Attempt, the key redacted
    (`heard`: awaited with the status once the answer's head is in, http/connections.py)."""
    timeout = settings.timeout
    try:
        # The connection's timeouts are per operation; this bounds the whole exchange.
        with anyio.fail_after(timeout):
            reply = await client.request(method, path, params=params, body=body, heard=heard)
    except Unanswered as exc:
        # Lost: sent, but no complete answer, so the API may have acted on it.
        error = (
            f"no answer within {timeout:g} s ({str(exc).split(':')[0]})"
            if exc.timed_out
            else redact(str(exc), settings.api_key)
        )
        return Attempt(None, reached=isinstance(exc, Lost), error=error, timed_out=exc.timed_out)
    except TimeoutError:
        return Attempt(
            None,
            reached=True,
            error=f"no answer within {timeout:g} s (TimeoutError)",
            timed_out=True,
        )
    body = _json_or_text(reply.content)
    hint = read_retry_after(reply.headers)
    return Attempt(
        status=reply.status,
        reached=True,
        message=redact(_message_of(body), settings.api_key),
        request_id=_request_id(reply.headers, body),
        retry_after=hint.seconds,
        body=body,
        ignored_hint=hint.ignored,
    )


def _json_or_text(content: bytes) -> Any:
    if not content:  # a 204's empty body, as the except below would return it, without a raise
        return ""
    try:
        return json.loads(content)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return content[:2000].decode("utf-8", "replace")[:500]


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "errors"):
            if key in body:
                value = body[key]
                return value if isinstance(value, str) else str(value)[:500]
        return ""
    return body.strip()[:500] if isinstance(body, str) else ""


def _request_id(headers: Mapping[str, str], body: Any) -> str:
    for header in ("x-request-id", "request-id", "x-amzn-requestid"):
        if header in headers:
            return headers[header][:200]
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return str(body["request_id"])[:200]
    return ""
