"""The hot path's network backend (offboard/http/stream.py) over real loopback sockets: each
way a connection can fail reaches the run as the right NotSent or Lost, TLS is checked, and a
connection the server dropped while idle is not reused."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import anyio
import httpcore
import pytest

from offboard.http.connections import Connections, _CoreSlot
from offboard.http.exchange import Lost, NotSent
from offboard.http.stream import ProtocolBackend, ProtocolStream

from .helpers import settings

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """A loopback TCP server in a thread; `handle(conn)` runs once per accepted connection.
    `accepted` counts connections, `done` is set when a handler returns."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._handle = handle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.done = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)
            self._handle(conn)
            self.done.set()

    def close(self) -> None:
        self.listener.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handle: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def one_request(url: str, timeout: float = 5.0) -> None:
    async def go() -> None:
        async with Connections(settings(base_url=url, concurrency=1, timeout=timeout)) as c:
            await c.request("GET", "/iam/clients/me")

    anyio.run(go)


def test_the_hot_path_uses_offboards_own_network_backend():
    """_CoreSlot's connection is given ProtocolBackend, not httpcore's AnyIO backend."""
    slot = _CoreSlot(settings(), {}, __import__("ssl").create_default_context())
    connection = anyio.run(slot._usable)
    assert isinstance(connection._network_backend, ProtocolBackend)


class Unavailable:
    """A connection that is open and fresh but takes no request (httpcore's
    ConnectionNotAvailable: the request was never sent)."""

    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return False

    def has_expired(self) -> bool:
        return False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        raise httpcore.ConnectionNotAvailable()

    async def aclose(self) -> None:
        self.closed = True


def test_a_request_its_connection_cannot_take_goes_out_on_a_new_one(serve):
    """As httpcore's pool did: ConnectionNotAvailable means not sent, so the slot closes that
    connection and sends the request on a new one, which the server answers."""

    def answer(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(ANSWER)

    server = serve(answer)
    stale = Unavailable()

    async def go() -> int:
        async with Connections(settings(base_url=server.url, concurrency=1)) as connections:
            (slot,) = connections._slots
            assert isinstance(slot, _CoreSlot)
            slot._connection = stale  # type: ignore[assignment]
            return (await connections.request("GET", "/x")).status

    assert anyio.run(go) == 200
    assert stale.closed and server.accepted == 1


def test_a_server_that_never_answers_is_lost_and_timed_out(serve):
    """Sent, then silence until the read timeout: Lost, timed out (the server may have acted)."""
    server = serve(lambda conn: read_request(conn) and None)
    with pytest.raises(Lost) as caught:
        one_request(server.url, timeout=0.3)
    assert caught.value.timed_out and "ReadTimeout" in str(caught.value)


def test_a_refused_port_is_not_sent():
    """Nothing listens: ConnectError, NotSent (safe to send again), not timed out."""
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with pytest.raises(NotSent) as caught:
        one_request(f"http://127.0.0.1:{port}")
    assert not caught.value.timed_out and "ConnectError" in str(caught.value)


def test_a_server_closing_mid_answer_is_lost(serve):
    """Half an answer, then the connection closes: Lost (not timed out), never a Reply."""

    def half(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        conn.close()

    server = serve(half)
    with pytest.raises(Lost) as caught:
        one_request(server.url)
    assert not caught.value.timed_out


def test_a_server_resetting_mid_answer_is_lost(serve):
    """A reset (RST) instead of an orderly close: Lost too."""

    def reset(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    server = serve(reset)
    with pytest.raises(Lost):
        one_request(server.url)


def test_a_connection_the_server_closed_while_idle_is_not_reused(serve):
    """The server answers and closes; the next request on the same slot goes out on a new
    connection and is answered (is_readable saw the close), instead of Lost on the old one."""

    def answer_and_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(ANSWER)
        conn.close()

    server = serve(answer_and_close)

    async def go() -> list[int]:
        statuses = []
        async with Connections(settings(base_url=server.url, concurrency=1)) as connections:
            for _ in range(3):
                server.done.clear()
                statuses.append((await connections.request("GET", "/x")).status)
                # The server has closed (its handler returned) before the next request.
                await anyio.to_thread.run_sync(server.done.wait)
        return statuses

    assert anyio.run(go) == [200, 200, 200]
    assert server.accepted == 3


def test_bytes_nobody_asked_for_make_the_stream_readable(serve):
    """Unsolicited bytes or a close while idle: is_readable says so (httpcore then drops the
    connection); a quiet idle connection is not readable."""
    go_on = threading.Event()

    def chatty(conn: socket.socket) -> None:
        go_on.wait(5)
        conn.sendall(b"junk")

    server = serve(chatty)

    async def go() -> tuple[bool, bool]:
        stream = await ProtocolBackend().connect_tcp("127.0.0.1", server.port, timeout=5)
        quiet = stream.get_extra_info("is_readable")
        go_on.set()
        await anyio.to_thread.run_sync(server.done.wait)
        await anyio.sleep(0)  # the bytes were in the socket before `done`: the loop has them
        readable = stream.get_extra_info("is_readable")
        await stream.aclose()
        return quiet, readable

    assert anyio.run(go) == (False, True)


def test_a_write_the_server_never_reads_times_out_as_write_timeout(serve):
    """The server reads nothing, so the socket buffers fill: WriteTimeout (Lost, timed out
    at the slot), not a wait forever."""
    hold = threading.Event()
    server = serve(lambda conn: hold.wait(10) and None)

    async def go() -> None:
        stream = await ProtocolBackend().connect_tcp("127.0.0.1", server.port, timeout=5)
        try:
            await stream.write(b"x" * (64 << 20), timeout=0.3)
        finally:
            await stream.aclose()

    try:
        with pytest.raises(httpcore.WriteTimeout):
            anyio.run(go)
    finally:
        hold.set()


def test_a_write_on_a_closed_stream_is_a_write_error(serve):
    """Writing after the connection ended raises WriteError (asyncio alone would drop the
    bytes with a log line)."""
    server = serve(lambda conn: conn.close())

    async def go() -> None:
        stream = await ProtocolBackend().connect_tcp("127.0.0.1", server.port, timeout=5)
        assert isinstance(stream, ProtocolStream)
        assert await stream.read(100, timeout=5) == b""  # the orderly close
        await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)

    with pytest.raises(httpcore.WriteError):
        anyio.run(go)


def test_a_connect_that_hangs_is_connect_timeout_and_not_sent(monkeypatch):
    """A connect that does not complete within the timeout: ConnectTimeout, NotSent timed out."""

    async def hang(self: object, *args: object, **kwargs: object) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", hang)
    with pytest.raises(NotSent) as caught:
        one_request("http://127.0.0.1:9", timeout=0.2)
    assert caught.value.timed_out and "ConnectTimeout" in str(caught.value)


def test_a_plain_http_base_url_loads_no_ca_bundle(monkeypatch):
    """Loading the CA bundle costs ~35 ms of CPU: an http:// base URL (the sandbox) on the hot
    path never needs it; an https:// one loads it once for every slot."""
    import ssl

    loaded: list[object] = []
    real = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        loaded.append(kwargs.get("cafile"))
        return real()

    monkeypatch.setattr(ssl, "create_default_context", counted)
    Connections(settings(base_url="http://127.0.0.1:9", concurrency=3))
    assert loaded == []
    Connections(settings(base_url="https://api.example.test", concurrency=3))
    assert len(loaded) == 1
