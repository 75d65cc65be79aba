"""People named everywhere (`*`): what the expansion costs in requests and memory (issue 21).

For N people who each reach 3 accounts, the same 3N revocations are run two ways, each as
its own `offboard run` process against a fresh sandbox (every account managed by the key):

    everywhere   a CSV with only an `email` column: every row means every account (*)
    pairs        the 3N (account, user) rows written out by hand

and prints, per run, the requests the sandbox received by kind, the process's peak RSS and
its wall time. The expansion adds no request when the `*` run's count equals the pairs run's
(both read the user list before and once after, for the read-back); memory stays flat when
the peak RSS of the `*` run grows no faster with N than the pairs run's (the user list itself
is held by both).

    .venv/bin/python benchmarks/people.py            # N = 1,000 and 10,000 (about 3 minutes)
    .venv/bin/python benchmarks/people.py 200 2000   # other sizes
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from offboard.sandbox import Sandbox, load_world

ACCOUNTS = (10, 11, 12)
KEY = "4242_c0ffee5ecretd00d"
OFFBOARD = [sys.executable, "-m", "offboard"]


def world(people: int) -> dict[str, object]:
    roles = {account: "Users" for account in ACCOUNTS}
    return {
        "api_key": KEY,
        "account": ACCOUNTS[0],
        "key_user": 1,
        "accounts": [{"id": a, "name": f"Account {a}"} for a in ACCOUNTS],
        "users": [
            {
                "id": 1,
                "email": "admin@p.example",
                "roles": dict.fromkeys(ACCOUNTS, "Administrators"),
            },
            *({"id": 1000 + i, "email": f"p{i}@p.example", "roles": roles} for i in range(people)),
        ],
    }


def write_sources(work: Path, people: int) -> dict[str, Path]:
    everywhere, pairs = work / f"everywhere-{people}.csv", work / f"pairs-{people}.csv"
    everywhere.write_text(
        "email\n" + "".join(f"p{i}@p.example\n" for i in range(people)), encoding="utf-8"
    )
    pairs.write_text(
        "account,user\n"
        + "".join(f"{a},p{i}@p.example\n" for i in range(people) for a in ACCOUNTS),
        encoding="utf-8",
    )
    return {"everywhere": everywhere, "pairs": pairs}


def run(source: Path, people: int, work: Path) -> dict[str, object]:
    with Sandbox(load_world(world(people), origin="people-benchmark"), port=0) as sandbox:
        command = [
            *OFFBOARD,
            "run",
            str(source),
            "--base-url",
            sandbox.url,
            "--rate",
            "10000",
            "--concurrency",
            "32",
            "--max-revocations",
            str(10 * people),
            "--report-dir",
            str(work / f"report-{source.stem}"),
            "-q",
        ]
        began = time.monotonic()
        child = subprocess.Popen(command, env={**os.environ, "GCORE_API_KEY": KEY})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - began
        kinds = collections.Counter(_kind(r.method, r.path) for r in sandbox.requests())
        gone = sum(sandbox.user_exists(1000 + i) is False for i in range(people))
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "requests": dict(kinds),
        "total": sum(kinds.values()),
        "rss_mib": usage.ru_maxrss / 1024,
        "wall_s": wall,
        "users_deleted": gone,
    }


def _kind(method: str, path: str) -> str:
    if method == "DELETE" and "/client-users/" in path:
        return "DELETE revoke"
    if path.startswith("/iam/users"):
        return "GET users page"
    return f"{method} {path.split('?')[0].rsplit('/', 1)[0]}/..."


def main(sizes: list[int]) -> None:
    print(
        f"# benchmarks/people.py: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"
    )
    print(
        "| people | pairs | SOURCE | exit | requests | users pages | DELETEs | other "
        "| users deleted | peak RSS MiB | wall s |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for people in sizes:
            sources = write_sources(work, people)
            for name, source in sources.items():
                got = run(source, people, work)
                requests = got["requests"]
                assert isinstance(requests, dict)
                pages = requests.get("GET users page", 0)
                deletes = requests.get("DELETE revoke", 0)
                other = int(str(got["total"])) - pages - deletes
                print(
                    f"| {people:,} | {3 * people:,} | {name} | {got['exit']} | {got['total']:,} "
                    f"| {pages:,} | {deletes:,} | {other:,} | {got['users_deleted']:,} "
                    f"| {got['rss_mib']:.0f} | {got['wall_s']:.1f} |"
                )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
