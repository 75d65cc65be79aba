"""The seam's slot (http/connections.py): httpx's client, for an injected transport or a proxy.
The hot path never imports httpx's client layer; this slot does, when it is made."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.settings import Settings
from .exchange import Heard, Lost, NotSent, Reply, describe

if TYPE_CHECKING:
    import httpx


class HttpxSlot:
    """The seam: one `httpx.AsyncClient` connection, over an injected transport (the tests'
    scripted and recording ones) or the environment's proxy."""

    def __init__(
        self,
        settings: Settings,
        headers: Mapping[str, str],
        tls: ssl.SSLContext,
        transport: httpx.AsyncBaseTransport | None,
        proxied: bool,
    ) -> None:
        import httpx  # only here: the hot path never needs its client layer

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,  # the key must never travel to another host
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=tls,
            trust_env=proxied,
            transport=transport,
        )

    async def send(
        self, method: str, target: str, body: bytes | None, heard: Heard | None = None
    ) -> Reply:
        httpx = self._httpx
        headers = {"Content-Type": "application/json"} if body is not None else None
        request = self._client.build_request(method, target, content=body, headers=headers)
        try:
            # Streamed, so that `heard` hears the head before the body is read.
            response = await self._client.send(request, stream=True)
            try:
                if heard is not None:
                    await heard(response.status_code)
                await response.aread()
            finally:
                await response.aclose()
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            raise NotSent(describe(exc), isinstance(exc, httpx.TimeoutException)) from None
        except httpx.TimeoutException as exc:
            raise Lost(describe(exc), timed_out=True) from None
        except httpx.TransportError as exc:
            raise Lost(describe(exc)) from None
        return Reply(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
