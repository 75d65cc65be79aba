"""The floor: the least CPU Python spends to send these DELETEs, as a reference row.

    GCORE_API_KEY=... python benchmarks/floor.py rows.csv --base-url URL --concurrency 32

`--concurrency` workers, each with its own one-connection `httpcore.AsyncConnectionPool`
(httpx's transport layer, no client layer above it), take rows from one shared iterator and
send `DELETE /iam/clients/{account}/client-users/{user}` with the key header, reading each
answer in full. No journal, report, retries or rate limit: whatever a real client adds costs
more than this. Prints the count per HTTP status as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
from collections import Counter
from collections.abc import Iterator

import httpcore


async def worker(
    rows: Iterator[tuple[str, str]],
    base_url: str,
    headers: list[tuple[str, str]],
    counts: Counter[str],
) -> None:
    async with httpcore.AsyncConnectionPool(max_connections=1) as pool:
        for account, user in rows:
            try:
                response = await pool.request(
                    "DELETE",
                    f"{base_url}/iam/clients/{account}/client-users/{user}",
                    headers=headers,
                )
                counts[str(response.status)] += 1
            except httpcore.NetworkError as exc:
                counts[type(exc).__name__] += 1


async def revoke_all(rows: list[tuple[str, str]], base_url: str, concurrency: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    headers = [
        ("Authorization", f"APIKey {os.environ['GCORE_API_KEY']}"),
        ("Accept", "application/json"),
    ]
    shared = iter(rows)  # one iterator: each row is taken by exactly one worker
    await asyncio.gather(
        *(worker(shared, base_url.rstrip("/"), headers, counts) for _ in range(concurrency))
    )
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", help="CSV with `account` and `user` (user IDs) columns")
    parser.add_argument("--base-url", default=os.environ.get("GCORE_BASE_URL"))
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.rows, newline="", encoding="utf-8") as file:
        rows = [(r["account"], r["user"]) for r in csv.DictReader(file)]
    counts = asyncio.run(revoke_all(rows, args.base_url, args.concurrency))
    print(json.dumps(dict(counts), sort_keys=True))


if __name__ == "__main__":
    main()
