"""The wire: a run's HTTP clients, and one attempt over them read into an `Attempt`.

`send` never raises for HTTP or network trouble: a refused connection, a lost
answer or any status becomes an `Attempt`, and api.py decides what to do with
it (retry, give up, abort the run). Nothing here limits, retries or counts.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import certifi
import httpx

from . import __version__
from .retry import RETRY_STATUSES, read_retry_after
from .settings import Settings, is_loopback, redact


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


class ClientPool:
    """`concurrency` HTTP clients of one connection each, lent out a request at a time.

    Why not one client with `concurrency` connections: on every request httpx
    checks each pooled connection for expiry (a poll() and more per
    connection), which at 32 connections cost about 5 ms of CPU per request
    here; one connection per client costs about 1.1 ms. The clients share one
    TLS context, since loading the CA bundle takes ~35 ms each.
    """

    def __init__(self, settings: Settings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        host = httpx.URL(settings.base_url).host
        tls = ssl.create_default_context(cafile=certifi.where())
        self._clients = [httpx.AsyncClient(
            base_url=settings.base_url,
            headers={
                "Authorization": f"APIKey {settings.api_key.reveal()}",
                "User-Agent": f"offboard/{__version__}",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,  # the key must never travel to another host
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=tls,
            # Proxy variables are for reaching the real API; a loopback sandbox
            # must be reached directly.
            trust_env=not is_loopback(host),
            transport=transport,
        ) for _ in range(settings.concurrency)]
        self._idle = list(self._clients)
        self._available = anyio.Semaphore(len(self._clients))

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                      body: Any = None) -> httpx.Response:
        async with self._available:
            client = self._idle.pop()  # never empty: the semaphore counts idle clients
            try:
                return await client.request(method, path, params=params, json=body)
            finally:
                self._idle.append(client)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self._clients:
            await client.aclose()


def make_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None
                ) -> ClientPool:
    """The HTTP clients of a run: key in a header, no redirects."""
    return ClientPool(settings, transport)


async def send(client: ClientPool, settings: Settings, method: str, path: str,
               params: Mapping[str, Any] | None, body: Any = None) -> Attempt:
    """One attempt, its answer (or its failure) read into an Attempt, the key redacted."""
    timeout = settings.timeout
    try:
        # httpx's timeout is per read; this bounds the whole exchange.
        with anyio.fail_after(timeout):
            response = await client.request(method, path, params=params, body=body)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return Attempt(None, reached=False, error=_describe(exc, settings))
    except (httpx.TransportError, TimeoutError) as exc:
        # Sent, but no complete answer: the API may have acted on it.
        timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
        return Attempt(None, reached=True, error=_describe(exc, settings), timed_out=timed_out)
    body = _json_or_text(response)
    hint = read_retry_after(response.headers)
    return Attempt(
        status=response.status_code,
        reached=True,
        message=redact(_message_of(body), settings.api_key),
        request_id=_request_id(response, body),
        retry_after=hint.seconds,
        body=body,
        ignored_hint=hint.ignored,
    )


def _describe(exc: Exception, settings: Settings) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {settings.timeout:g} s ({type(exc).__name__})"
    detail = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {detail}", settings.api_key)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "errors"):
            if key in body:
                value = body[key]
                return value if isinstance(value, str) else str(value)[:500]
        return ""
    return body.strip()[:500] if isinstance(body, str) else ""


def _request_id(response: httpx.Response, body: Any) -> str:
    for header in ("x-request-id", "request-id", "x-amzn-requestid"):
        if header in response.headers:
            return response.headers[header][:200]
    if isinstance(body, dict) and isinstance(body.get("request_id"), str):
        return str(body["request_id"])[:200]
    return ""
