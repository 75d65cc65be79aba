"""Secrets and trust: the key never leaks, never travels to another host, reports are private,
and a spreadsheet never runs what a CSV cell carries."""

from __future__ import annotations

import csv
import json
import random
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from offboard.core.models import Exchange, Outcome
from offboard.core.settings import Secret, Settings
from offboard.execute.classify import classify
from offboard.http.api import Api, make_client

from .conftest import KEY, Cli, world
from .helpers import FakeClock, routed, scripted, settings
from .test_run_e2e import results

SECRET = KEY.split("_", 1)[1]  # the part after the account number: what must never show

# Every outcome in one batch, run with --concurrency 1 so the rows go in order.
EVERYTHING = (
    "account,user,ticket\n"
    "10,101,T1\n"  # 2 revoked
    "20,102,T2\n"  # 3 missing: not in account 20
    "10,103,T3\n"  # 4 token_blocked
    "30,104,T4\n"  # 5 forbidden
    "10,105,T5\n"  # 6 failed: 503 on both attempts
    "10,abc,T6\n"  # 7 invalid
    "10,101,T7\n"  # 8 duplicate
    "10,106,T8\n"  # 9 skipped: --protect 106
    "20,101,T9\n"  # 10 failed: 401, the run aborts
    "10,102,T10\n"  # 11 not_attempted
)
EVERY_OUTCOME = [
    "revoked",
    "missing",
    "token_blocked",
    "forbidden",
    "failed",
    "invalid",
    "duplicate",
    "skipped",
    "failed",
    "not_attempted",
]
SCRIPT = {
    "scripted": [
        {"account": 10, "user": 105, "responses": [503, 503]},
        {"account": 20, "user": 101, "responses": [401]},
    ]
}

MODES = {
    "text": [],
    "text-verbose": ["-v"],
    "text-quiet": ["-q"],
    "json": ["--log-format", "json"],
    "json-verbose": ["--log-format", "json", "-v"],
}


def leaks(text: str) -> bool:
    return SECRET in text or KEY in text


def report_texts(directory: Path) -> dict[str, str]:
    """Every file in a report directory, hidden ones (.offboard/lock) included."""
    return {
        str(p.relative_to(directory)): p.read_text(encoding="utf-8", errors="replace")
        for p in directory.rglob("*")
        if p.is_file()
    }


def assert_private(directory: Path) -> None:
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.rglob("*") if p.is_file()}
    assert stat.S_IMODE((directory / ".offboard").stat().st_mode) == 0o700
    assert set(modes.values()) == {0o600}, modes


@pytest.mark.parametrize("mode", list(MODES))
def test_the_key_never_appears_in_any_output_or_report(cli, sandbox, mode):
    """A batch with every outcome (401 and 5xx included), then `plan` of it, in each log format
    and verbosity: neither the key nor its secret part is in stdout, stderr or any report file
    (.offboard/lock, run.json, inflight.jsonl and plan.json included); every file is 0600 in a 0700
    directory."""
    sb = sandbox(world(faults=SCRIPT))
    cli.write("leavers.csv", EVERYTHING)
    debug = {"OFFBOARD_DEBUG": "1"}  # an internal error would print its traceback: check it too
    done = cli(
        "run",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--concurrency",
        "1",
        "--max-attempts",
        "2",
        "--protect",
        "106",
        "--report-dir",
        "run",
        *MODES[mode],
        env=debug,
    )
    assert done.returncode == 3, done.stderr
    assert [r["outcome"] for r in results(cli.cwd / "run")] == EVERY_OUTCOME
    planned = cli(
        "plan",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--report-dir",
        "plan",
        *MODES[mode],
        env=debug,
    )
    assert planned.returncode == 1, planned.stderr
    files = {
        **{f"run/{k}": v for k, v in report_texts(cli.cwd / "run").items()},
        **{f"plan/{k}": v for k, v in report_texts(cli.cwd / "plan").items()},
    }
    assert {
        "run/.offboard/lock",
        "run/.offboard/run.json",
        "run/.offboard/inflight.jsonl",
        "run/.offboard/journal.jsonl",
        "plan/plan.json",
    } <= set(files)
    streams = {
        "run stdout": done.stdout,
        "run stderr": done.stderr,
        "plan stdout": planned.stdout,
        "plan stderr": planned.stderr,
    }
    assert [name for name, text in {**streams, **files}.items() if leaks(text)] == []
    if mode == "json-verbose":
        events = [json.loads(line)["event"] for line in done.stderr.splitlines()]
        assert events.count("row") == 10 and "retry" in events
    assert_private(cli.cwd / "run")
    assert_private(cli.cwd / "plan")


def test_a_wrong_key_is_not_echoed_either(cli, sandbox):
    """A rejected key (401 on the first request) is not printed or saved either."""
    sb = sandbox()
    wrong = "4242_wr0ngbutse3cret"
    cli.write("l.csv", "account,user\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o", "-v", key=wrong)
    assert done.returncode == 3
    texts = [done.stdout, done.stderr, *report_texts(cli.cwd / "o").values()]
    assert not any("wr0ngbutse3cret" in t for t in texts)


def test_transport_errors_and_answers_that_echo_the_key_are_redacted():
    """An exception text or an API message that contains the key (some proxies echo the
    request) comes back with the key blanked out, and Secret never shows itself."""
    config = settings(api_key=Secret(KEY), max_attempts=2)
    transport = scripted(
        [
            httpx.ConnectError(f"proxy refused Authorization: APIKey {KEY}"),
            httpx.Response(500, json={"message": f"bad header 'APIKey {KEY}' (secret {SECRET})"}),
        ]
    )

    async def go():
        async with make_client(config, transport) as client:
            return await Api(config, client, FakeClock(), random.Random(1)).revoke(10, 101)

    exchange = anyio.run(go)
    assert exchange.status == 500 and not leaks(exchange.message)
    outcome, message = classify(exchange)
    assert outcome is Outcome.FAILED and not leaks(message)
    for error in (
        httpx.ConnectError(f"proxy refused Authorization: APIKey {KEY}"),
        httpx.ReadError(f"reset after sending {SECRET}"),
    ):
        failed = anyio.run(_only, error, config)
        assert failed.status is None and type(error).__name__ in failed.error
        assert not leaks(failed.error) and not leaks(classify(failed)[1])
    assert not leaks(repr(config)) and not leaks(str(config.api_key))
    assert not leaks(f"{config.api_key}") and not leaks(repr(config.api_key))


async def _only(error: Exception, config: Settings) -> Exchange:
    """The Exchange of a revoke whose every attempt raises `error`."""
    async with make_client(config, scripted([error] * config.max_attempts)) as client:
        return await Api(config, client, FakeClock(), random.Random(1)).revoke(10, 101)


# -- trust: where the key may go -------------------------------------------------------------------


def test_plain_http_to_a_non_loopback_host_is_refused(cli):
    """GCORE_BASE_URL=http://example.com: exit 2 before anything is read or sent."""
    cli.write("l.csv", "account,user\n10,101\n")
    done = cli("run", "l.csv", env={"GCORE_BASE_URL": "http://example.com"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("offboard: GCORE_BASE_URL: plain http:// is refused")
    assert done.stderr.count("\n") == 1 and not (cli.cwd / "reports").exists()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_the_key_stays_here(status):
    """A 3xx pointing at another host is not followed: one request, to the API's own host, and
    the row fails saying why."""
    seen: list[httpx.Request] = []
    config = settings(api_key=Secret(KEY))

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host != "api.example.test":
            return httpx.Response(200)  # what a thief would answer
        return httpx.Response(status, headers={"Location": "https://evil.example/steal"})

    async def go():
        async with make_client(config, routed(route, seen)) as client:
            return await Api(config, client, FakeClock(), random.Random(1)).revoke(10, 101)

    exchange = anyio.run(go)
    assert exchange.status == status and exchange.attempts == 1
    assert [r.url.host for r in seen] == ["api.example.test"]
    outcome, message = classify(exchange)
    assert outcome is Outcome.FAILED and "redirect" in message and "not followed" in message


class _Server(ThreadingHTTPServer):
    """A loopback server that keeps the requests it got, and where its redirects point."""

    def __init__(self, host: str, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((host, 0), handler)
        self.seen: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.elsewhere = ""  # the origin a redirect sends the client to


class _Recorder(BaseHTTPRequestHandler):
    """Records every request it gets; answers 200 (the host a redirect would leak the key to)."""

    server: _Server  # serving() makes every server these handlers answer for

    def _any(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_DELETE = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Redirector(BaseHTTPRequestHandler):
    """An API that knows the key's user, but redirects the user list and every revoke."""

    server: _Server

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Location", f"{self.server.elsewhere}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/iam/clients/me":
            self._json({"id": 10, "currentUser": 1})
        else:
            self._redirect(302)

    def do_DELETE(self) -> None:
        self._redirect(307)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], host: str) -> Iterator[_Server]:
    server = _Server(host, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_redirects_to_another_host_are_not_followed_end_to_end(cli):
    """Against a real server that redirects the user list (302) and the revoke (307) to another
    loopback host: that host gets no request at all, so never the key; the row fails saying
    the redirect was not followed."""
    with serving(_Recorder, "127.0.0.2") as thief, serving(_Redirector, "127.0.0.1") as api:
        api.elsewhere = f"http://127.0.0.2:{thief.server_address[1]}"
        cli.write("l.csv", "account,user\n10,101\n")
        done = cli(
            "run",
            "l.csv",
            "--base-url",
            f"http://127.0.0.1:{api.server_address[1]}",
            "--max-attempts",
            "1",
            "--report-dir",
            "o",
        )
    assert done.returncode == 1, done.stderr
    (row,) = results(cli.cwd / "o")
    assert row["outcome"] == "failed" and row["http_status"] == "307"
    assert "redirect" in row["message"] and "not followed" in row["message"]
    assert thief.seen == []


# -- spreadsheet formulas --------------------------------------------------------------------------

FORMULAS = {
    "eq": '=HYPERLINK("http://x","y")',
    "plus": "+1+2",
    "minus": "-3+4",
    "at": "@SUM(A1)",
    "tab": "\t=1",
    "plain": "HR-2291 - ok",
}


def _formula_batch(cli: Cli, formulas: dict[str, str]) -> None:
    header = ",".join(["account", "user", *formulas])
    cells = ",".join('"' + v.replace('"', '""') + '"' for v in formulas.values())
    cli.write("l.csv", f"{header}\n10,101,{cells}\n10,=cmd@t.example,{cells}\n-10,102,{cells}\n")


def test_formula_cells_are_neutralised_in_csv_but_exact_in_jsonl(cli, sandbox):
    """Carried cells starting with =, +, -, @ or tab get a leading ' in results.csv and the
    per-outcome CSVs; results.jsonl keeps every value exactly; so do odd user and account
    cells. (CR: see test_a_carried_carriage_return_keeps_one_csv_record_per_row.)"""
    sb = sandbox()
    _formula_batch(cli, FORMULAS)
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "o"
    assert [r["outcome"] for r in results(out)] == ["revoked", "missing", "invalid"]
    for name in ("results.csv", "revoked.csv", "missing.csv", "invalid.csv"):
        with (out / name).open(encoding="utf-8-sig", newline="") as handle:
            for record in csv.DictReader(handle):
                for column, value in FORMULAS.items():
                    shown = record[column]
                    assert shown == (value if column == "plain" else "'" + value), (name, column)
                    assert not shown.startswith(("=", "+", "-", "@", "\t", "\r"))
                if record["row"] == "3":
                    assert record["user"] == "'=cmd@t.example"
                if record["row"] == "4":
                    assert record["account"] == "'-10"
    journal = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert all(j[c] == v for j in journal for c, v in FORMULAS.items())
    assert {j["row"]: j["user"] for j in journal}[3] == "=cmd@t.example"
    assert {j["row"]: j["account"] for j in journal}[4] == "-10"


def test_a_carried_carriage_return_keeps_one_csv_record_per_row(cli, sandbox):
    """A cell starting with CR (a formula after it) is neutralised like the others, and
    results.csv still has exactly one record per row."""
    sb = sandbox()
    _formula_batch(cli, {"cr": "\r=1+2", "mid": "a\rb"})
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o")
    assert done.returncode == 1, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["revoked", "missing", "invalid"]
    assert all(r["cr"] == "'\r=1+2" and r["mid"] == "a\rb" for r in rows)
