"""A run's HTTP connections: `concurrency` slots of one connection each, lent a request at a
time, every answer read in full into a `Reply`.

Two kinds of slot, one interface:

- the hot path: an `httpcore.AsyncConnectionPool` of one connection per slot. httpcore is
  httpx's own transport layer; the client layer above it (request building, URL merging,
  cookies, the auth flow, redirects, decoding) cost about 0.27 ms of CPU per request
  (issue 14's profile) and offboard needs none of it: one base URL, fixed headers, no
  redirects (the key must never travel to another host), no cookies;
- the seam: an `httpx.AsyncClient` over an injected `httpx.AsyncBaseTransport` (the tests'
  scripted and recording transports), or over the environment's proxy when one applies.

Why one connection per slot rather than one pool of `concurrency` connections: on every
request the pool checks each pooled connection for expiry (a poll() each), which at 32
connections cost about 5 ms of CPU per request here. The slots share one TLS context,
since loading the CA bundle takes ~35 ms each.
"""

from __future__ import annotations

import json
import os
import ssl
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

import anyio
import certifi
import httpcore

from .. import __version__
from ..core.settings import Settings, is_loopback
from .exchange import Heard, Lost, NotSent, Reply, describe
from .httpx_slot import HttpxSlot
from .stream import ProtocolBackend

if TYPE_CHECKING:
    import httpx

_BACKEND = ProtocolBackend()  # holds no state: one for every slot
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
_DEFAULT_PORTS = {b"http": 80, b"https": 443}  # a Host header omits these (as httpcore's)


class _Slot(Protocol):
    async def send(
        self, method: str, target: str, body: bytes | None, heard: Heard | None = None
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class Connections:
    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        host = urlsplit(settings.base_url).hostname or ""
        # Proxy variables are for reaching the real API; a loopback sandbox is reached directly.
        proxied = not is_loopback(host) and any(
            os.environ.get(name) or os.environ.get(name.upper()) for name in PROXY_VARIABLES
        )
        seam = transport is not None or proxied
        # Loading the CA bundle costs ~35 ms of CPU: a plain-HTTP hot path (a loopback
        # sandbox) never needs it. httpx's client (the seam) is handed one in any case.
        tls = (
            ssl.create_default_context(cafile=certifi.where())
            if seam or settings.base_url.lower().startswith("https:")
            else None
        )
        headers = {
            "Authorization": f"APIKey {settings.api_key.reveal()}",
            "User-Agent": f"offboard/{__version__}",
            "Accept": "application/json",
        }
        self._slots: list[_Slot] = [
            HttpxSlot(settings, headers, tls, transport, proxied)
            if seam and tls is not None
            else _CoreSlot(settings, headers, tls)
            for _ in range(settings.concurrency)
        ]
        self._idle = list(self._slots)
        # fast_acquire: no extra trip through the event loop when a slot is free (each
        # request then does real I/O, so no task can starve the others).
        self._available = anyio.Semaphore(len(self._slots), fast_acquire=True)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        heard: Heard | None = None,
    ) -> Reply:
        """One exchange; raises NotSent or Lost (with the key never in the message).
        `heard` is awaited with the status once the answer's head is in, before its body
        is read."""
        target = f"{path}?{urlencode(params)}" if params else path
        content = None if body is None else json.dumps(body).encode()
        async with self._available:
            slot = self._idle.pop()  # never empty: the semaphore counts idle slots
            try:
                return await slot.send(method, target, content, heard)
            finally:
                self._idle.append(slot)

    async def __aenter__(self) -> Connections:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for slot in self._slots:
            await slot.aclose()


class _CoreSlot:
    """One connection. Each request is built here as httpcore.Request and handed to the
    slot's own `httpcore.AsyncHTTPConnection`: what `pool.request` would do per request
    (parse the URL string, check every header twice, add Host) is done once per slot, with
    the same bytes on the wire. No pool: a slot holds one connection and sends one request at
    a time, so the pool's per-request work (its locks, its queue, a sweep of its
    connections, a shielded close) bought nothing; what it did that matters is done here: a
    connection the server closed, or that failed, is replaced before the next request, and a
    request that found its connection unavailable goes on a new one (it was never sent)."""

    def __init__(
        self, settings: Settings, headers: Mapping[str, str], tls: ssl.SSLContext | None
    ) -> None:
        base = httpcore.URL(settings.base_url.rstrip("/"))
        self._scheme, self._host, self._port = base.scheme, base.host, base.port
        self._prefix = b"" if base.target == b"/" else base.target  # a base URL's own path
        default_port = _DEFAULT_PORTS.get(base.scheme)
        host = base.host if base.port in (None, default_port) else b"%b:%d" % (base.host, base.port)
        # Host first, as httpcore puts it; then ours (Content-Length last, for a body).
        self._headers = [(b"Host", host), *((k.encode(), v.encode()) for k, v in headers.items())]
        self._json = [*self._headers, (b"Content-Type", b"application/json")]
        timeout = settings.timeout
        self._extensions = {
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        }
        self._origin = httpcore.Origin(base.scheme, base.host, base.port or default_port or 0)
        self._tls = tls
        self._connection: httpcore.AsyncHTTPConnection | None = None

    async def _usable(self) -> httpcore.AsyncHTTPConnection:
        """The slot's connection, new if there was none or the last one is done for."""
        connection = self._connection
        if connection is not None and (connection.is_closed() or connection.has_expired()):
            await connection.aclose()  # closed by the server, or failed: never reused
            connection = None
        if connection is None:
            connection = self._connection = httpcore.AsyncHTTPConnection(
                self._origin, ssl_context=self._tls, network_backend=_BACKEND
            )
        return connection

    async def _exchange(self, request: httpcore.Request) -> httpcore.Response:
        for _ in range(2):
            connection = await self._usable()
            try:
                return await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:  # not sent: as the pool does, a new one
                await connection.aclose()
                self._connection = None
        raise httpcore.ConnectError("no connection was available for the request")

    async def send(
        self, method: str, target: str, body: bytes | None, heard: Heard | None = None
    ) -> Reply:
        url = httpcore.URL(
            scheme=self._scheme,
            host=self._host,
            port=self._port,
            target=self._prefix + target.encode("ascii"),
        )
        headers = (
            self._headers
            if body is None
            else [*self._json, (b"Content-Length", str(len(body)).encode("ascii"))]
        )
        request = httpcore.Request(
            method.encode("ascii"), url, headers=headers, content=body, extensions=self._extensions
        )
        try:
            response = await self._exchange(request)
            try:
                if heard is not None:
                    await heard(response.status)
                await response.aread()
            finally:
                await response.aclose()
        except (
            httpcore.ConnectError,
            httpcore.ConnectTimeout,
            httpcore.PoolTimeout,
            httpcore.UnsupportedProtocol,
        ) as exc:
            raise NotSent(describe(exc), isinstance(exc, httpcore.TimeoutException)) from None
        except httpcore.TimeoutException as exc:
            raise Lost(describe(exc), timed_out=True) from None
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise Lost(describe(exc)) from None
        named = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
        return Reply(response.status, named, _decoded(response.content, named))

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.aclose()


def _decoded(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The body as sent before compression: no Accept-Encoding is asked for, but a server may
    compress anyway; an encoding that cannot be undone leaves the bytes as they came."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            return zlib.decompress(content, 47)  # 32 + 15: a gzip or zlib header
        except zlib.error:
            if encoding == "deflate":
                try:
                    return zlib.decompress(content, -15)  # raw deflate, as some servers send
                except zlib.error:
                    pass
    return content
