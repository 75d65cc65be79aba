"""The naive baseline: one `httpx.Client`, one DELETE per row, one after another.

    GCORE_API_KEY=... python benchmarks/naive_loop.py rows.csv --base-url URL

No concurrency, no retries, no rate limit. Prints the count per HTTP status as one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections import Counter

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", help="CSV with `account` and `user` (user IDs) columns")
    parser.add_argument("--base-url", default=os.environ.get("GCORE_BASE_URL"))
    args = parser.parse_args()
    with open(args.rows, newline="", encoding="utf-8") as file:
        rows = [(r["account"], r["user"]) for r in csv.DictReader(file)]
    counts: Counter[str] = Counter()
    headers = {"Authorization": f"APIKey {os.environ['GCORE_API_KEY']}"}
    with httpx.Client(base_url=args.base_url, headers=headers, timeout=30) as client:
        for account, user in rows:
            try:
                response = client.delete(f"/iam/clients/{account}/client-users/{user}")
                counts[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                counts[type(exc).__name__] += 1
    print(json.dumps(dict(counts), sort_keys=True))


if __name__ == "__main__":
    main()
