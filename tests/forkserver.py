"""`python -m offboard` for the tests, forked from an interpreter that has already imported it.

Most of an end-to-end test's CPU went to starting Python and importing offboard again for
every CLI call (about 0.5 s of the ~1 s a small run costs). The server here (one per test
worker) imports the package once, then forks a fresh process per call: the CLI still runs in
its own process, with the call's argv, working directory, environment, stdin, stdout, stderr
and exit code, through the same `python -m offboard` entry (runpy's `_run_module_as_main`, as
the interpreter's `-m` does), and ends by a normal interpreter exit (atexit, non-daemon
threads, flushing). Each call forks from the same pristine server, never from an earlier call.

What a fork cannot give, the tests get from a real subprocess (`Cli` falls back to one): an
environment that changes how the interpreter starts (PYTHON*, locale variables). Popen-based
tests (signals, terminals, startup imports) never come here.

Protocol on a Unix socket, one connection per call: the client sends a length-prefixed JSON
request with three descriptors (stdin, stdout, stderr); the server forks a waiter, which forks
the CLI process and answers `pid N` then `exit CODE`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import locale
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

HEADER = struct.Struct("!Q")
# Variables read while the interpreter starts (its streams' encoding, hashing, warnings...): a
# call that changes one runs in a real subprocess.
STARTUP_VARIABLES = ("PYTHON", "LC_", "LANG")


def _preload() -> None:
    """Import the entry point first (the order a cold start has), then every module a command
    may import later, lazily included, so that no call imports them again."""
    import importlib
    import pkgutil

    import offboard
    import offboard.cli.main

    for module in pkgutil.walk_packages(offboard.__path__, "offboard."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in ("prometheus_client", "anyio._backends._asyncio", "jinja2", "yaml"):
        importlib.import_module(name)
    # The collector would otherwise walk (and so copy, page by page) every preloaded object in
    # each forked call; frozen, they stay shared.
    gc.collect()
    gc.freeze()


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, HEADER.size, 3)
    while len(data) < HEADER.size:
        data += conn.recv(HEADER.size - len(data))
    (size,) = HEADER.unpack(data)
    payload = b""
    while len(payload) < size:
        payload += conn.recv(size - len(payload))
    return json.loads(payload), fds


def _serve(path: str) -> tuple[socket.socket, dict[str, Any], list[int]]:
    """Answer calls until the test worker stops the server; returns only in a forked child."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    ready = threading.active_count() == 1  # forking a threaded process is not safe
    sys.stdout.write("ready\n" if ready else "threads\n")
    sys.stdout.flush()
    if not ready:
        sys.exit(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing more to say on the ready pipe
    while True:
        _reap(block=False)
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):  # a client that went away mid-request
            conn.close()
            continue
        if request.get("stop"):
            _reap(block=True)  # so that every call's CPU time is counted in the worker's
            sys.exit(0)
        if os.fork() == 0:
            listener.close()
            return conn, request, fds
        conn.close()
        for fd in fds:
            os.close(fd)


def _reap(*, block: bool) -> None:
    """Wait for finished waiters (their CPU time, and their CLI's, then counts as ours)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_the_cli(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """In the forked waiter: fork the CLI process, report its pid and exit code; returns only
    in the CLI process, set up as `python -m offboard ARGV` started in the call's cwd."""
    pid = os.fork()
    if pid:
        try:
            for fd in fds:
                os.close(fd)
            conn.sendall(f"pid {pid}\n".encode())
            _, status = os.waitpid(pid, 0)
            conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        finally:  # a client gone on a timeout: the waiter still never runs the CLI itself
            os._exit(0)
    conn.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["-m", *request["argv"]]
    sys.path[0] = os.getcwd()  # as `python -m` sets it


def main() -> None:
    sys.path[0] = os.getcwd()  # not tests/: nothing is imported from there
    _preload()
    conn, request, fds = _serve(sys.argv[1])
    _become_the_cli(conn, request, fds)
    import runpy

    runpy._run_module_as_main("offboard")  # type: ignore[attr-defined]


class ForkServer:
    """One per test worker: started on first use, stopped by the session's end."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.environ = environ
        self._directory = tempfile.mkdtemp(prefix="offboard-forks-")
        self._path = str(Path(self._directory) / "s")
        self._process: subprocess.Popen[bytes] | None = None
        self._broken = False

    def fits(self, env: dict[str, str]) -> bool:
        """A call whose environment starts the interpreter as the server's did."""
        if self._broken:
            return False
        names = {k for k in (*env, *self.environ) if k.startswith(STARTUP_VARIABLES)}
        return all(env.get(k) == self.environ.get(k) for k in names)

    def _start(self) -> bool:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, __file__, self._path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=self.environ,
                cwd=self._directory,
            )
            assert self._process.stdout is not None
            if self._process.stdout.readline() != b"ready\n":
                self._broken = True
        return not self._broken

    def stop(self) -> None:
        if self._process is not None:
            if not self._broken:
                with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
                    conn.connect(self._path)
                    socket.send_fds(conn, [_request({"stop": True})], [])
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            assert self._process.stdout is not None
            self._process.stdout.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str] | None:
        """The call's result, or None when the server cannot run it (run a subprocess)."""
        if not self._start():
            return None
        encoding = locale.getpreferredencoding(False)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin is not None else (_stdin(), -1)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self._path)
            request = _request({"argv": argv, "cwd": str(cwd), "env": env})
            socket.send_fds(conn, [request], [in_r, out_w, err_w])
        finally:
            for fd in (out_w, err_w) + ((in_r,) if in_r != 0 else ()):
                os.close(fd)
        outputs: dict[int, bytes] = {}
        threads = [threading.Thread(target=_read_all, args=(fd, outputs)) for fd in (out_r, err_r)]
        if stdin is not None:
            threads.append(threading.Thread(target=_write_all, args=(in_w, stdin.encode(encoding))))
        for thread in threads:
            thread.start()
        with conn, conn.makefile("rb") as answers:
            conn.settimeout(timeout)
            pid = int(answers.readline().split()[1])
            try:
                code = int(answers.readline().split()[1])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                code = None
        for thread in threads:
            thread.join()
        out, err = (_text(outputs[fd], encoding) for fd in (out_r, err_r))
        command = [sys.executable, "-m", "offboard", *argv]
        if code is None:
            raise subprocess.TimeoutExpired(command, timeout, out, err)
        return subprocess.CompletedProcess(command, code, out, err)


def _request(fields: dict[str, Any]) -> bytes:
    payload = json.dumps(fields).encode()
    return HEADER.pack(len(payload)) + payload


def _stdin() -> int:
    """What subprocess.run(input=None) gives the child: this process's own stdin."""
    try:
        os.fstat(0)
    except OSError:
        return os.open(os.devnull, os.O_RDONLY)
    return 0


def _read_all(fd: int, into: dict[int, bytes]) -> None:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    into[fd] = b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:  # the CLI exited without reading it all, as subprocess allows
        pass
    finally:
        os.close(fd)


def _text(data: bytes, encoding: str) -> str:
    """Decoded as subprocess.run(text=True) decodes: universal newlines."""
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    main()
