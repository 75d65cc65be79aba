"""The look-ups' own round trips: offboard's reads before its first DELETE, and nothing else.

    GCORE_API_KEY=... python benchmarks/lookups_floor.py rows.csv --base-url URL --concurrency 32

Issue 22 allows offboard "the look-ups' own round trips plus 0.1 s" before its first DELETE.
A round trip is more than the server's latency: the key's user (`GET /iam/clients/me`) holds
every user of the account, and the user list is 3,000 users in 31 pages, which the server
takes its own time to render. So this script measures them, the way benchmarks/floor.py
measures the DELETEs: the same requests in the same order as offboard's critical path (the
key's user; the user list's first page with the login log's first page beside it; the list's
other pages at once, each on its own connection), each answer read in full and only the first
page decoded (its `count` says which pages follow), then the first row's DELETE. The server's
log then gives its "first request to first DELETE" exactly as it gives offboard's.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os

import httpcore

# offboard's own page sizes, so that these are its requests (imported before the first
# request: outside the span the server's log measures)
from offboard.execute.activity import PAGE as LOG_PAGE
from offboard.http.listing import USERS_PAGE


async def lookups_then_one_delete(base: str, key: str, concurrency: int, first: list[str]) -> None:
    headers = [("Authorization", f"APIKey {key}"), ("Accept", "application/json")]
    async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

        async def get(path: str) -> bytes:
            response = await pool.request("GET", base + path, headers=headers)
            return response.content

        await get("/iam/clients/me")
        users, _ = await asyncio.gather(
            get(f"/iam/users?limit={USERS_PAGE}&offset=0"),
            get(f"/iam/activity_log/logins?limit={LOG_PAGE}&offset=0"),
        )
        count = json.loads(users)["count"]
        await asyncio.gather(
            *(
                get(f"/iam/users?limit={USERS_PAGE}&offset={o}")
                for o in range(USERS_PAGE, count, USERS_PAGE)
            )
        )
        account, user = first
        await pool.request(
            "DELETE", f"{base}/iam/clients/{account}/client-users/{user}", headers=headers
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", help="CSV with `account` and `user` columns: the first row")
    parser.add_argument("--base-url", default=os.environ.get("GCORE_BASE_URL"))
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.rows, newline="", encoding="utf-8") as file:
        row = next(csv.DictReader(file))
    asyncio.run(
        lookups_then_one_delete(
            args.base_url.rstrip("/"),
            os.environ["GCORE_API_KEY"],
            args.concurrency,
            [row["account"], row["user"]],
        )
    )


if __name__ == "__main__":
    main()
