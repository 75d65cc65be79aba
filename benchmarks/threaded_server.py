"""A second, independent Gcore IAM simulator for the compare benchmark: a thread per connection.

    python benchmarks/threaded_server.py --key KEY --users 3000 --latency 0.02

`http.server.ThreadingHTTPServer` (HTTP/1.1 keep-alive, daemon threads, one thread per
connection) on 127.0.0.1, a free port; the first stdout line is its URL. It shares no code with
offboard or its sandbox (uvicorn + h11 on asyncio) and serves just what `offboard run`, the SDK
script and the floor use to revoke N users: GET /iam/clients/me, GET /iam/users (limit/offset),
GET /iam/activity_log/logins (empty), GET and DELETE /iam/clients/{a}/client-users/{u} and
GET /iam/v2/clients/{a}/tokens (empty). Every request needs `Authorization: APIKey KEY` (else
401), waits --latency in its handler thread and is logged; GET /_log (no auth, not logged)
serves the log as the sandbox's /_sandbox/log does: [{time, method, path, query, status,
applied, request_id}], time = time.monotonic() at arrival.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ROLES = {"Administrators": 1, "Users": 2}
UNAUTHORIZED = (
    "Authentication credentials were not provided or given token not valid for any token type."
)
NOT_MEMBER = "User is not found in the specified account."
MEMBER = re.compile(r"/iam/clients/(\d+)/client-users/(\d+)/?")
TOKENS = re.compile(r"/iam/v2/clients/(\d+)/tokens/?")


class Directory:
    """The account's members (user id -> role name), their details and the request log."""

    def __init__(self, account: int, key_user: int, first_user: int, users: int) -> None:
        self.account = account
        self.key_user = key_user
        self.lock = threading.Lock()
        self.members: dict[int, str] = {key_user: "Administrators"}
        self.members |= {first_user + i: "Users" for i in range(users)}
        self.log: list[dict[str, Any] | None] = []

    def user(self, user_id: int, role: str) -> dict[str, Any]:
        email = (
            "it-admin@bench.example"
            if user_id == self.key_user
            else f"leaver{user_id}@bench.example"
        )
        return {
            "id": user_id,
            "email": email,
            "name": None,
            "lang": "en",
            "phone": None,
            "company": "Bench Co",
            "reseller": 1,
            "client": self.account,
            "deleted": False,
            "groups": [{"id": ROLES[role], "name": role}],
            "activated": True,
            "sso_auth": False,
            "two_fa": False,
            "auth_types": ["password"],
            "user_type": "common",
            "is_active": True,
            "client_and_roles": [
                {
                    "client_id": self.account,
                    "client_company_name": "Bench Co",
                    "user_id": user_id,
                    "user_roles": [str(ROLES[role])],
                }
            ],
        }

    def answer(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON body or None for an empty body) for an authorised API request."""
        if method == "GET" and path.rstrip("/") == "/iam/clients/me":
            with self.lock:
                members = sorted(self.members.items())
            users = [self.user(u, role) for u, role in members]
            return 200, {
                "id": self.account,
                "users": users,
                "email": "it-admin@bench.example",
                "name": None,
                "status": "active",
                "companyName": "Bench Co",
                "currentUser": self.key_user,
                "deleted": False,
                "is_test": False,
            }
        if method == "GET" and path.rstrip("/") == "/iam/users":
            with self.lock:
                members = sorted(self.members.items())
            if "limit" not in query:  # as Gcore: no limit, no envelope
                return 200, [self.user(u, role) for u, role in members]
            limit, offset = int(query["limit"]), int(query.get("offset", 0))
            page = [self.user(u, role) for u, role in members[offset : offset + limit]]
            return 200, {"count": len(members), "results": page}
        if method == "GET" and path.rstrip("/") == "/iam/activity_log/logins":
            return 200, {"count": 0, "result": []}
        if method == "GET" and TOKENS.fullmatch(path):
            return 200, []
        found = MEMBER.fullmatch(path)
        if found and method in ("GET", "DELETE"):
            account, user = int(found[1]), int(found[2])
            with self.lock:
                role = self.members.get(user) if account == self.account else None
                if role is not None and method == "DELETE":
                    del self.members[user]
            if role is None:
                return 404, {"message": NOT_MEMBER}
            return (
                (200, None)
                if method == "DELETE"
                else (200, {"user_role": {"id": ROLES[role], "name": role}})
            )
        return 404, {"message": "Not found."}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    directory: Directory
    key = ""
    latency = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on stderr

    def do_GET(self) -> None:
        self.handle_api("GET")

    def do_DELETE(self) -> None:
        self.handle_api("DELETE")

    def do_POST(self) -> None:
        self.handle_api("POST")

    def handle_api(self, method: str) -> None:
        arrived = time.monotonic()
        request_id = uuid.uuid4().hex
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        if parts.path == "/_log":
            with self.directory.lock:
                records = [r for r in self.directory.log if r is not None]
            self.reply(200, records, request_id)
            return
        with self.directory.lock:
            slot = len(self.directory.log)
            self.directory.log.append(None)
        if self.latency:
            time.sleep(self.latency)
        scheme, _, given = (self.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "apikey" or given.strip() != self.key:
            status, body = 401, {"message": UNAUTHORIZED}
        else:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                status, body = self.directory.answer(method, parts.path, query)
            except ValueError as exc:
                status, body = 400, {"message": str(exc)}
        applied = method == "DELETE" and status == 200
        with self.directory.lock:
            self.directory.log[slot] = {
                "time": arrived,
                "method": method,
                "path": parts.path,
                "query": parts.query,
                "status": status,
                "applied": applied,
                "request_id": request_id,
            }
        self.reply(status, body, request_id)

    def reply(self, status: int, body: Any, request_id: str) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", request_id)
        self.end_headers()
        if data:
            self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # every client connection at once, not the default backlog of 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="the API key every request must carry")
    parser.add_argument("--users", type=int, default=0, help="plain members to create")
    parser.add_argument("--first-user", type=int, default=100_001)
    parser.add_argument("--account", type=int, default=1000)
    parser.add_argument("--key-user", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    Handler.directory = Directory(args.account, args.key_user, args.first_user, args.users)
    Handler.key, Handler.latency = args.key, args.latency
    server = Server(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
