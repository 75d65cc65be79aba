"""Run the sandbox over real HTTP on 127.0.0.1: in a background thread (`Sandbox`, for tests and
the demo) or in the foreground (`serve`, for the `offboard sandbox` command)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType

import uvicorn

from offboard.sandbox.app import SandboxApp, hide_drop_tracebacks
from offboard.sandbox.faults import FaultInjector
from offboard.sandbox.log import RequestLog, RequestRecord
from offboard.sandbox.state import State
from offboard.sandbox.world import SandboxError, World

HOST = "127.0.0.1"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


class PortUnavailable(SandboxError):
    """The sandbox cannot listen on the port asked for: another program holds it, or the OS
    refuses it. The attributes let a caller say which option to change."""

    def __init__(self, host: str, port: int, reason: str, in_use: bool) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason
        self.in_use = in_use


class Sandbox:
    """A sandbox server in a daemon thread. Use as a context manager; one start per instance.

    `state` continues the memberships and token deletions of an earlier sandbox of the same
    world, so a test can stop a sandbox mid-run and start another on the same port with
    everything it had applied, as if one server had restarted:

        sb.stop()
        again = Sandbox(sb.world, port=sb.port, state=sb.state)
    """

    def __init__(self, world: World, port: int = 0, *, state: State | None = None) -> None:
        if state is not None and state.world != world:
            raise SandboxError("the state given belongs to another world")
        self.world = world
        self._port = port
        self._bound: int | None = None  # the port actually bound, kept after stop()
        self._state = state if state is not None else State(world)
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise SandboxError("this sandbox was already started; create a new one")
        app = SandboxApp(self._state, self._log, FaultInjector(self.world.faults), self._stopping)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Pinned rather than "auto", so a drop behaves the same whatever extras are installed.
            http="h11",
            ws="none",
            loop="asyncio",
        )
        hide_drop_tracebacks()  # after Config, which reconfigures uvicorn's loggers
        self._sock = _listen(self._port)
        self._bound = self._sock.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"offboard-sandbox:{self.port}", daemon=True
        )
        url = self.url
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"the sandbox on {url} did not start: {self._failure!r}")
            time.sleep(0.002)

    def stop(self) -> None:
        """Stop the server and join its thread. Safe to call more than once."""
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT)
        if self._sock is not None:
            self._sock.close()  # uvicorn closes it too; closing twice is harmless

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit included: uvicorn exits on startup failure
            # Keep it for start() to report, instead of a traceback from a background thread.
            self._failure = exc

    # -- what tests and the CLI use ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on; still known after stop(), to restart on the same port."""
        if self._bound is None:
            raise SandboxError("the sandbox is not started")
        return self._bound

    @property
    def state(self) -> State:
        """The live state: hand it to a new Sandbox to carry on after this one stops."""
        return self._state

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.world.api_key

    def requests(self) -> list[RequestRecord]:
        return self._log.records()

    def has_access(self, account_id: int, user_id: int) -> bool:
        return self._state.has_access(account_id, user_id)

    def user_exists(self, user_id: int) -> bool:
        return self._state.user_exists(user_id)

    def live_tokens(self, account_id: int, user_id: int) -> list[int]:
        return self._state.live_tokens(account_id, user_id)


def serve(
    world: World,
    port: int,
    on_ready: Callable[[str], object] | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve `world` until SIGINT/SIGTERM (or until `stop` is set), then return normally.

    The server runs in a background thread while this thread waits, because uvicorn's own
    signal handling re-raises the signal after shutting down: Ctrl-C would surface as
    KeyboardInterrupt and SIGTERM would kill the process instead of returning.
    """
    stop = stop or threading.Event()
    restore = _on_signals(stop)
    try:
        with Sandbox(world, port) as sandbox:
            if on_ready is not None:
                on_ready(sandbox.url)
            # wait() with a timeout, so the main thread stays responsive to signals.
            while not stop.wait(0.2):
                pass
    finally:
        restore()


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT/SIGTERM set `stop`; return a function restoring the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may install handlers; rely on `stop`

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _listen(port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and with Nagle on every response with a body stalls ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name != "nt":  # lets `offboard sandbox` restart on its port right after a stop
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        raise PortUnavailable(HOST, port, exc.strerror or str(exc), in_use) from exc
    return sock
