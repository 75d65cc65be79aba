"""Each row's parse, made while the look-ups before the first DELETE are in flight.

Parsing a row (plan/rows.py's `parse`: is the account an ID or `*`, the user an ID or an
email) needs no look-up, so it need not wait for the user list: the session starts it
beside the key's user and the list's pages, in chunks that let their answers through, and
the pass before the first DELETE then only resolves, dedupes and guards. Only a batch whose
rows are kept in memory is parsed ahead (its targets are kept too); a bigger one is parsed
in the pass, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import anyio.lowlevel

from ..core.models import Row
from ..plan.rows import Target, parse
from ..source.csv_rows import CsvRows
from ..source.leaving import leave_of

T = TypeVar("T")

CHUNK = 500  # rows parsed between two turns of the event loop (about 2 ms)


class ParsedAhead:
    """The batch's parsed rows, once `parse` has run (None until then)."""

    def __init__(self) -> None:
        self.targets: Sequence[Target | str] | None = None
        # each row's leave moment, by row number, for the rows that have one (None: not
        # parsed ahead): the pass before the first DELETE then reads no leave_date
        self.leaves: dict[int, datetime] | None = None

    async def during(
        self, look_up: Awaitable[T], rows: Iterable[Row] | None, everywhere: bool
    ) -> T:
        """Await `look_up`, parsing `rows` meanwhile when they are in memory (None: no rows
        to parse, a run from a plan); its exception is raised as itself."""
        if rows is None or not in_memory(rows):
            return await look_up
        failed: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self.parse, rows, everywhere)
            try:
                found = await look_up
            except Exception as exc:  # raised below, as itself (not in an ExceptionGroup)
                failed = exc
        if failed is not None:
            raise failed
        return found

    async def parse(self, rows: Iterable[Row], everywhere: bool) -> None:
        targets: list[Target | str] = []
        leaves: dict[int, datetime] = {}
        now = datetime.now(UTC)
        for number, row in enumerate(rows, start=1):
            targets.append(parse(row, everywhere))
            if (leave := leave_of(row, now)) is not None:
                leaves[row.number] = leave
            if number % CHUNK == 0:
                await anyio.lowlevel.checkpoint()
        self.targets, self.leaves = targets, leaves


def in_memory(rows: Iterable[Row]) -> bool:
    """The rows are a list (a YAML SOURCE) or a CSV whose check kept them all."""
    return isinstance(rows, Sequence) or (isinstance(rows, CsvRows) and rows.in_memory)
