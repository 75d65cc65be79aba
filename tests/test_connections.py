"""Which slot a run's requests go through (offboard/http/connections.py), and what a slot reads."""

from __future__ import annotations

import gzip
import ssl
import zlib
from collections.abc import Awaitable, Callable

import anyio
import httpx
import pytest

from offboard.http.connections import Connections, _CoreSlot, _decoded
from offboard.http.exchange import Reply
from offboard.http.httpx_slot import HttpxSlot

from .helpers import routed, settings


def kinds(connections: Connections) -> set[type]:
    return {type(slot) for slot in connections._slots}


def test_the_hot_path_is_httpcore_and_an_injected_transport_is_httpx(monkeypatch):
    for name in ("https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert kinds(Connections(settings())) == {_CoreSlot}
    injected = routed(lambda request: httpx.Response(200))
    assert kinds(Connections(settings(), injected)) == {HttpxSlot}


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_goes_through_httpx_which_honours_it(monkeypatch, variable):
    """httpcore alone knows no proxy variables: with one set, the real API is reached through
    httpx's client (trust_env), as before; a loopback sandbox still directly."""
    monkeypatch.setenv(variable, "http://proxy.example.test:3128")
    assert kinds(Connections(settings())) == {HttpxSlot}
    loopback = settings(base_url="http://127.0.0.1:8765")
    assert kinds(Connections(loopback)) == {_CoreSlot}


def test_a_compressed_answer_is_read_uncompressed():
    """No Accept-Encoding is sent, but a server may compress anyway."""
    body = b'{"message": "ok"}'
    assert _decoded(gzip.compress(body), {"content-encoding": "gzip"}) == body
    assert _decoded(zlib.compress(body), {"content-encoding": "deflate"}) == body
    raw = zlib.compressobj(wbits=-15)
    assert _decoded(raw.compress(body) + raw.flush(), {"content-encoding": "deflate"}) == body
    assert _decoded(b"not gzip", {"content-encoding": "gzip"}) == b"not gzip"
    assert _decoded(body, {}) == body


def test_slots_are_lent_one_request_at_a_time():
    """At most `concurrency` requests in flight, whatever asks."""
    in_flight = most = 0

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await anyio.sleep(0.01)
            in_flight -= 1
            return httpx.Response(200, json={})

    async def go() -> None:
        async with (
            Connections(settings(concurrency=3), Slow()) as connections,
            anyio.create_task_group() as group,
        ):
            for _ in range(12):
                group.start_soon(connections.request, "GET", "/iam/clients/me")

    anyio.run(go)
    assert most == 3


@pytest.fixture
def tls_server(tmp_path):
    """A loopback HTTPS server with a self-signed certificate: (url, its certificate file)."""
    import http.server
    import shutil
    import ssl
    import subprocess
    import threading

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = b'{"currentUser": 1}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_the_hot_path_speaks_tls_and_checks_the_certificate(tls_server, monkeypatch):
    """HTTPS through httpcore: a certificate the CA bundle trusts is answered; one it does not
    trust is a connection never made (NotSent: safe to retry, nothing reached the server)."""
    import certifi

    from offboard.core.settings import Secret
    from offboard.http.exchange import NotSent

    url, cert = tls_server
    config = settings(base_url=url, api_key=Secret("k"))

    async def me(connections: Connections) -> Reply:
        async with connections:
            return await connections.request("GET", "/iam/clients/me")

    monkeypatch.setattr(certifi, "where", lambda: str(cert))
    reply = anyio.run(me, Connections(config))
    assert (reply.status, reply.content) == (200, b'{"currentUser": 1}')
    monkeypatch.undo()
    with pytest.raises(NotSent, match="CERTIFICATE_VERIFY_FAILED"):
        anyio.run(me, Connections(config))


def test_the_hot_path_sends_the_same_bytes_as_httpcore_would():
    """The hot path builds each httpcore.Request itself (URL parts, Host and headers made once
    per slot): a DELETE and a POST with a JSON body reach a raw loopback socket as exactly the
    bytes httpcore's own `pool.request` with the URL string sends (Host first, Content-Length
    last), base path included."""
    import httpcore

    from offboard import __version__

    answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    async def capture(send: Callable[[str], Awaitable[None]]) -> list[bytes]:
        seen: list[bytes] = []

        async def serve(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                seen.append(await stream.receive())
                await stream.send(answer)

        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, serve)
            await send(f"http://127.0.0.1:{port}/base")
            group.cancel_scope.cancel()
        return [b.replace(b":%d" % port, b":PORT") for b in seen]  # two runs, two ports

    async def ours(url: str) -> None:
        slot = _CoreSlot(settings(base_url=url), HEADERS, ssl_context())
        await slot.send("DELETE", "/iam/clients/10/client-users/7", None)
        await slot.aclose()
        slot = _CoreSlot(settings(base_url=url), HEADERS, ssl_context())
        await slot.send("POST", "/iam/x?a=1", b'{"k": 1}')
        await slot.aclose()

    async def httpcores(url: str) -> None:
        for method, target, body, extra in (
            ("DELETE", "/iam/clients/10/client-users/7", None, []),
            ("POST", "/iam/x?a=1", b'{"k": 1}', [(b"Content-Type", b"application/json")]),
        ):
            async with httpcore.AsyncConnectionPool(max_connections=1) as pool:
                headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()] + extra
                await pool.request(method, url + target, headers=headers, content=body)

    HEADERS = {"Authorization": "APIKey 1_x", "User-Agent": f"offboard/{__version__}"}

    def ssl_context() -> ssl.SSLContext:
        return ssl.create_default_context()

    ours_sent = anyio.run(capture, ours)
    theirs_sent = anyio.run(capture, httpcores)
    assert len(ours_sent) == 2 and ours_sent == theirs_sent
    assert ours_sent[0].startswith(b"DELETE /base/iam/clients/10/client-users/7 HTTP/1.1\r\nHost: ")


def test_the_hot_path_keeps_a_tls_connection_for_the_next_request(tls_server, monkeypatch):
    """Three requests on one slot over HTTPS are all answered on one kept-alive connection:
    http/stream.py's TLS stream reads, writes and reports its SSLObject (httpcore checks the
    ALPN answer there) past the first exchange."""
    import certifi

    from offboard.core.settings import Secret

    url, cert = tls_server
    monkeypatch.setattr(certifi, "where", lambda: str(cert))
    config = settings(base_url=url, api_key=Secret("k"), concurrency=1)

    async def three(connections: Connections) -> tuple[list[int], int]:
        async with connections:
            (slot,) = connections._slots
            assert isinstance(slot, _CoreSlot)
            statuses, kept = [], set()
            for _ in range(3):
                statuses.append((await connections.request("GET", "/x")).status)
                kept.add(id(slot._connection))  # a new one if it was dropped
            return statuses, len(kept)

    assert anyio.run(three, Connections(config)) == ([200, 200, 200], 1)
