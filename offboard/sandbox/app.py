"""The ASGI application: admin pages, auth, fault injection, request logging, then endpoints.

For an API request the order is: route (404/405) -> auth (401) -> rate limit (429) -> random
5xx -> scripted answer (revokes only) -> body too large (413) -> the endpoint -> a misreported
`currentUser` (clients/me only). Auth comes before the faults so a wrong key fails the same way
every time and unauthenticated traffic never uses up the rate budget. Invites and the login
history go through the same steps: only revokes have scripted answers and random drops.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict
from http import HTTPStatus
from typing import Any

from offboard.sandbox import endpoints
from offboard.sandbox.endpoints import Response, error
from offboard.sandbox.faults import FaultInjector
from offboard.sandbox.log import RequestLog, RequestRecord
from offboard.sandbox.state import State
from offboard.sandbox.world import Delay, Drop, Reply

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MAX_BODY = 1 << 20  # bytes; a bigger request body is answered 413, unread past this
UNAUTHORIZED = (
    "Authentication credentials were not provided or given token not valid for any token type."
)


class ConnectionDropped(Exception):
    """Raised after the response head: uvicorn then closes the connection mid-response."""


class _HideDrops(logging.Filter):
    """uvicorn logs every exception from the app as an error; a drop is on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def hide_drop_tracebacks() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDrops) for f in logger.filters):
        logger.addFilter(_HideDrops())


class SandboxApp:
    def __init__(
        self, state: State, log: RequestLog, faults: FaultInjector, stopping: threading.Event
    ) -> None:
        self.state = state
        self.log = log
        self.faults = faults
        self._stopping = stopping
        self._key = state.world.api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are disabled
            return
        path: str = scope["path"]
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            await _send(send, self._admin(scope["method"], path), uuid.uuid4().hex)
        else:
            await self._api(scope, receive, send)

    def _admin(self, method: str, path: str) -> Response:
        """Debugging pages: no auth, no faults, not logged."""
        if path not in {"/_sandbox/log", "/_sandbox/state"}:
            return error(404, "Not found.")
        if method != "GET":
            return error(405, f'Method "{method}" not allowed.', (("allow", "GET"),))
        if path == "/_sandbox/log":
            data: Any = [asdict(record) for record in self.log.records()]
        else:
            data = self.state.snapshot()
        body = json.dumps(data, indent=2).encode()
        return Response(200, body, (("content-type", "application/json"),))

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        arrived = time.monotonic()
        request_id = uuid.uuid4().hex
        slot = self.log.reserve()
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        status: int | None = None
        applied = False
        if self._stopping.is_set():
            # Stopping: a request that slips in on an open connection before uvicorn closes it
            # is cut unanswered and not applied, as by a server killed mid-run.
            self.log.fill(
                slot, RequestRecord(arrived, method, path, query, None, False, request_id)
            )
            await _send(send, error(503, "The server is stopping."), request_id, drop=True)
            raise ConnectionDropped
        try:
            body = await _read_body(receive)
            await self._pause(self.faults.faults.latency)
            response, after = self._decide(method, path, query, scope["headers"], body)
            applied = response.applied
            if isinstance(after, Delay):
                await self._pause(after.seconds)
            if not isinstance(after, Drop):
                status = response.status
        finally:
            # Logged before answering, so a client holding its answer always finds the record.
            self.log.fill(
                slot, RequestRecord(arrived, method, path, query, status, applied, request_id)
            )
        if isinstance(after, Drop):
            await _send(send, response, request_id, drop=True)
            raise ConnectionDropped
        await _send(send, response, request_id)

    def _decide(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
    ) -> tuple[Response, Drop | Delay | None]:
        """The answer to send, and what to do after applying it (drop, delay or nothing)."""
        found = endpoints.route(method, path)
        if isinstance(found, Response):
            return found, None
        handler, args = found
        if not self._authorised(headers):
            return error(401, UNAUTHORIZED), None
        if not self.faults.admit():
            return self._throttled(), None
        status = self.faults.random_error()
        if status is not None:
            return error(status, _phrase(status)), None
        after: Drop | Delay | None = None
        if handler is endpoints.revoke_access:
            scripted = self.faults.scripted(*args)
            if isinstance(scripted, Reply):
                return _scripted_reply(scripted), None
            after = scripted
            if after is None and self.faults.random_drop():
                after = Drop()
        if body is None:
            return error(413, "Request body is too large."), None
        try:
            request = endpoints.Request(method, path, endpoints.parse_query(query), args, body)
            response = handler(self.state, request)
        except endpoints.BadRequest as exc:
            return error(400, str(exc)), None
        if handler is endpoints.account_details:
            response = self._misreport_key_user(response)
        return response, after

    def _throttled(self) -> Response:
        """A 429 worded as Gcore's (Django REST framework's `Throttled`), its hint in the
        limiter's style: without a hint header the message quotes no figure either."""
        headers, wait = self.faults.throttle_hint()
        message = "Request was throttled."
        if wait is not None:
            message += f" Expected available in {wait} seconds."
        return error(429, message, tuple(headers.items()))

    def _misreport_key_user(self, response: Response) -> Response:
        """The clients/me answer with the scenario's `current_user` fault, if it has one."""
        wrong = self.faults.faults.current_user
        if wrong is None:
            return response
        body = json.loads(response.body)
        body["currentUser"] = wrong
        return endpoints.json_response(response.status, body)

    def _authorised(self, headers: list[tuple[bytes, bytes]]) -> bool:
        value = next((v for k, v in headers if k == b"authorization"), b"")
        scheme, _, key = value.strip().partition(b" ")
        # The spec's own example writes the scheme as `apikey`; docs write `APIKey`.
        return scheme.lower() == b"apikey" and hmac.compare_digest(key.strip(), self._key)

    async def _pause(self, seconds: float) -> None:
        # Short steps, so stopping the sandbox need not wait out a long scripted delay.
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the client went away
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _scripted_reply(reply: Reply) -> Response:
    headers: list[tuple[str, str]] = []
    # Only what the script asks for: a bare 429 without Retry-After is a case clients must handle.
    if reply.retry_after is not None:
        headers.append(("retry-after", str(reply.retry_after)))
    if reply.retry_after_ms is not None:
        headers.append(("retry-after-ms", str(reply.retry_after_ms)))
    return error(reply.status, _phrase(reply.status), tuple(headers))


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:  # a scripted status with no standard name, such as 499
        return "Error."


async def _send(send: Send, response: Response, request_id: str, drop: bool = False) -> None:
    headers = [(name.encode(), value.encode()) for name, value in response.headers]
    headers.append((b"x-request-id", request_id.encode()))
    if drop:
        # Announce a body that never comes: the client sees a truncated response (a transport
        # error), even when the real answer would have had an empty body.
        headers.append((b"content-length", str(max(len(response.body), 1)).encode()))
    elif response.status != 204:
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if not drop:
        await send({"type": "http.response.body", "body": response.body})
