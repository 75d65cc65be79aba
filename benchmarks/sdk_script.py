"""Revoke every row of a leavers CSV with the official Gcore SDK, as a user would write it.

    GCORE_API_KEY=... python benchmarks/sdk_script.py rows.csv --base-url URL --concurrency 32

`AsyncGcore` with its defaults (2 retries, 120 s timeout, its own connection pool), one
`client.iam.users.delete(user_id=..., client_id=...)` per row, at most `--concurrency` in flight
under an asyncio.Semaphore. Prints the count per result as one JSON line.
Needs the `gcore` package: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
from collections import Counter

import gcore
from gcore import AsyncGcore


async def revoke_all(rows: list[tuple[int, int]], base_url: str, concurrency: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    semaphore = asyncio.Semaphore(concurrency)
    async with AsyncGcore(api_key=os.environ["GCORE_API_KEY"], base_url=base_url) as client:

        async def revoke(account: int, user: int) -> None:
            async with semaphore:
                try:
                    await client.iam.users.delete(user_id=user, client_id=account)
                    counts["revoked"] += 1
                except gcore.NotFoundError:
                    counts["missing"] += 1
                except gcore.PermissionDeniedError:
                    counts["forbidden"] += 1
                except gcore.APIStatusError as exc:
                    counts[f"http_{exc.status_code}"] += 1
                except gcore.APIConnectionError:
                    counts["connection_error"] += 1

        await asyncio.gather(*(revoke(account, user) for account, user in rows))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", help="CSV with `account` and `user` (user IDs) columns")
    parser.add_argument("--base-url", default=os.environ.get("GCORE_BASE_URL"))
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.rows, newline="", encoding="utf-8") as file:
        rows = [(int(r["account"]), int(r["user"])) for r in csv.DictReader(file)]
    counts = asyncio.run(revoke_all(rows, args.base_url, args.concurrency))
    print(json.dumps(dict(counts), sort_keys=True))


if __name__ == "__main__":
    main()
