"""httpcore's network backend for the hot path, on an asyncio Protocol.

httpcore's own asyncio backend goes through anyio: every read and write opens an anyio cancel
scope (`fail_after`), and every reuse of an idle connection polls its socket (`is_readable`);
together about a quarter of a request's CPU here. This one keeps what the stream must say to
httpcore and nothing else:

- timeouts as httpcore's ConnectTimeout, ReadTimeout, WriteTimeout (connections.py maps a
  connect failure to NotSent and a read or write failure to Lost), one timer per wait rather
  than a cancel scope;
- failures as ConnectError, ReadError, WriteError; an orderly close as b"" (h11 then says
  "Server disconnected");
- TLS by asyncio's own `start_tls` with the shared SSLContext and the host as SNI, its
  SSLObject under "ssl_object" (httpcore checks the ALPN answer there);
- "is_readable" true when the server closed the connection or sent bytes nobody asked for,
  so httpcore drops it instead of sending on it. It is known from what the event loop has
  already delivered, not polled: a close the loop has not yet seen is missed, as a close
  still on the wire is missed by a poll.

The run's event loop is asyncio's (anyio.run's default); an anyio cancel scope cancels the
task awaiting here like any other, and the wait's timer and waiter are cleaned up.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import Iterable

from httpcore import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
_HIGH_WATER = 1 << 18  # bytes held unread before the socket stops being read (flow control)


class _Timeout(Exception):
    """Set on a waiter by its timer: the wait ran out (never seen outside this module)."""


class _Connection(asyncio.Protocol):
    """What the transport delivered: bytes not yet read, EOF, the error that ended it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.ended = False  # EOF or connection lost: nothing more will come
        self.error: BaseException | None = None
        self.paused = False  # our writes are waiting for the buffer to drain
        self.reading = True
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > _HIGH_WATER and self.reading and self.transport is not None:
            self.transport.pause_reading()
            self.reading = False
        _wake(self.waiter)

    def eof_received(self) -> bool:
        self.ended = True
        _wake(self.waiter)
        return False  # the transport closes itself; nothing more is sent on a reply's end

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        _wake(self.waiter)
        _wake(self.drained)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        _wake(self.drained)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(_Timeout())


async def _wait(waiter: asyncio.Future[None], timeout: float | None) -> None:
    """Await `waiter`; _Timeout after `timeout` seconds (one TimerHandle, no cancel scope)."""
    if timeout is None:
        await waiter
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


class ProtocolStream(AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        if not connection.chunks and not connection.ended:
            connection.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(connection.waiter, timeout)
            except _Timeout:
                raise ReadTimeout("timed out reading the answer") from None
            finally:
                connection.waiter = None
        if connection.chunks:
            return self._take(max_bytes)
        if connection.error is not None:
            raise ReadError(str(connection.error) or type(connection.error).__name__)
        return b""  # an orderly close

    def _take(self, max_bytes: int) -> bytes:
        connection = self._connection
        chunks = connection.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(data) > max_bytes:
            connection.chunks = [data[max_bytes:]]
            data = data[:max_bytes]
        else:
            connection.chunks = []
        connection.size -= len(data)
        if not connection.reading and connection.size <= _HIGH_WATER // 4:
            connection.reading = True
            if connection.transport is not None and not connection.ended:
                connection.transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        transport = connection.transport
        if transport is None or connection.ended or transport.is_closing():
            # asyncio would drop the bytes with only a log line: say so instead.
            raise WriteError(str(connection.error or "the connection is closed"))
        transport.write(buffer)
        while connection.paused and not connection.ended:
            connection.drained = asyncio.get_running_loop().create_future()
            try:
                await _wait(connection.drained, timeout)
            except _Timeout:
                raise WriteTimeout("timed out sending the request") from None
            finally:
                connection.drained = None
        if connection.error is not None:
            raise WriteError(str(connection.error) or type(connection.error).__name__)

    async def aclose(self) -> None:
        transport = self._connection.transport
        if transport is not None:
            # abort, not close: close would first flush what a timed-out write left (forever,
            # to a server not reading) and, over TLS, wait for the server's close_notify. As
            # httpcore's own backend (anyio's TLS stream, not standard-compatible), none is sent.
            transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        connection = self._connection
        transport = connection.transport
        assert transport is not None  # set by connection_made before connect_tcp returns
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    transport, connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            transport.close()
            raise ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            transport.close()
            raise ConnectError(str(exc) or type(exc).__name__) from None
        except BaseException:
            transport.close()
            raise
        if tls is None:  # the connection closed during the handshake
            raise ConnectError("the connection closed during the TLS handshake")
        connection.transport = tls
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        connection = self._connection
        if info == "is_readable":
            return connection.ended or bool(connection.chunks)
        transport = connection.transport
        if transport is None:
            return None
        names = {"client_addr": "sockname", "server_addr": "peername"}
        if info in ("ssl_object", "socket") or info in names:
            return transport.get_extra_info(names.get(info, info))
        return None


class ProtocolBackend(AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                    # As anyio's connect_tcp: a host with IPv6 and IPv4 addresses is tried on
                    # both (RFC 8305, 250 ms apart), so a broken IPv6 route is not a timeout.
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError:
            raise ConnectTimeout("timed out connecting") from None
        except OSError as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from None
        # asyncio sets TCP_NODELAY on its TCP sockets, as httpcore's own backends do.
        if socket_options and connection.transport is not None:
            sock = connection.transport.get_extra_info("socket")
            for option in socket_options:
                sock.setsockopt(*option)
        return ProtocolStream(connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
