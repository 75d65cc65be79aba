"""A deliberately cheap load generator, to find the sandbox's own ceiling.

    GCORE_API_KEY=... python benchmarks/raw_load.py rows.csv --base-url URL --connections 64

Hand-written HTTP/1.1 over asyncio streams on keep-alive connections: one DELETE per row, no
HTTP library, no parsing beyond the status line and Content-Length. It spends far less CPU per
request than any real client, so what it reaches is close to what the sandbox itself can serve.
Prints the count per HTTP status as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
from collections import Counter
from urllib.parse import urlsplit


async def worker(
    host: str, port: int, key: str, todo: list[tuple[str, str]], counts: Counter[str]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while todo:
            account, user = todo.pop()
            writer.write(
                f"DELETE /iam/clients/{account}/client-users/{user} HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: APIKey {key}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            counts[status] += 1
    finally:
        writer.close()


async def run(url: str, key: str, rows: list[tuple[str, str]], connections: int) -> Counter[str]:
    parts = urlsplit(url)
    counts: Counter[str] = Counter()
    todo = list(reversed(rows))
    await asyncio.gather(
        *(
            worker(parts.hostname or "127.0.0.1", parts.port or 80, key, todo, counts)
            for _ in range(connections)
        )
    )
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with open(args.rows, newline="", encoding="utf-8") as file:
        rows = [(r["account"], r["user"]) for r in csv.DictReader(file)]
    counts = asyncio.run(run(args.base_url, os.environ["GCORE_API_KEY"], rows, args.connections))
    print(json.dumps(dict(counts), sort_keys=True))


if __name__ == "__main__":
    main()
