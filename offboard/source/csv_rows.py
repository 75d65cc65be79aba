"""Read CSV bytes into Rows: lazily, line by line, refusing a file that is not a batch.

Row numbers are editor line numbers; a bad header, bad encoding or broken
quoting is a SourceError naming the origin and the line. Whether each row is
usable is decided later, per row, by plan/rows.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ..core.errors import SourceError
from ..core.models import EVERYWHERE, REPORT_COLUMNS, Row
from .leaving import LEAVE_DATE, check_leave_date

ACCOUNT_NAMES = ("account", "client_id", "clientid", "account_id")
USER_NAMES = ("user", "user_id", "userid", "email")
# Rows the check's read keeps in memory (a few MB at most): a batch this size is read from
# disk once, not again by each pass over it on the way to the first DELETE and after.
KEPT = 20_000


class CsvRows:
    """The rows of a CSV, read lazily from `opener()` each time they are iterated, unless
    `check()` found at most `kept` of them: those it keeps (Rows are frozen), and every
    pass goes through the same list. Memory does not grow past `kept` rows.

    Row numbers are editor line numbers (header = 1, blank lines count). The
    bytes are decoded line by line, so an encoding error names its exact line.
    """

    def __init__(self, opener: Callable[[], BinaryIO], origin: str, kept: int = KEPT) -> None:
        self._opener = opener
        self._room = kept
        self._kept: list[Row] | None = None  # every row, when check() found at most `kept`
        self.origin = origin
        self.columns: tuple[str, ...] = ()
        # True when the header has a user column and no account column: every row then
        # names its person everywhere (`*`), as the contract says.
        self.everywhere = False

    @property
    def in_memory(self) -> bool:
        """check() kept every row: a pass reads no file."""
        return self._kept is not None

    def check(self) -> int:
        """Read everything once, refusing an unreadable file; returns the number of rows."""
        count = 0
        kept: list[Row] = []
        for row in self._read():
            count += 1
            if count <= self._room:
                kept.append(row)
        self._kept = kept if count <= self._room else None
        return count

    def __iter__(self) -> Iterator[Row]:
        return iter(self._kept) if self._kept is not None else self._read()

    def _read(self) -> Iterator[Row]:
        origin = self.origin
        with self._opener() as raw:
            reader = csv.reader(_text_lines(raw, origin), strict=True)
            try:
                header = _first_record(reader)
                if header is None:
                    raise SourceError(f"{origin}: no header line (expected columns account,user)")
                account_at, user_at, carried = _map_header(header, origin)
                self.columns = tuple(name for _, name in carried)
                self.everywhere = account_at is None
                # A bad leave_date refuses the whole file (exit 2), as bad CSV does.
                dated = any(name.strip().lower() == LEAVE_DATE for name in self.columns)
                now = datetime.now(UTC)
                line = reader.line_num
                for record in reader:
                    number, line = line + 1, reader.line_num
                    if any(cell.strip() for cell in record):
                        row = _csv_row(number, record, len(header), account_at, user_at, carried)
                        if dated:
                            check_leave_date(row, origin, now)
                        yield row
            except csv.Error as exc:
                raise SourceError(
                    f"{origin}: line {reader.line_num}: not valid CSV: {exc}"
                ) from None


def parse_csv(data: bytes, origin: str) -> tuple[list[Row], list[str]]:
    """Rows and carried column names of CSV bytes (for small inputs and tests)."""
    if not data:
        raise SourceError(f"{origin}: the input is empty (0 bytes)")
    rows = CsvRows(lambda: io.BytesIO(data), origin)
    return list(rows), list(rows.columns)


def _text_lines(raw: BinaryIO, origin: str) -> Iterator[str]:
    """Decoded lines, checked: UTF-8 (a BOM is fine) and no NUL bytes."""
    for number, line in enumerate(raw, start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(
                f"{origin}: line {number}: not UTF-8 text (save the file as UTF-8 CSV)"
            ) from None
        if "\x00" in text:
            raise SourceError(
                f"{origin}: line {number}: contains NUL bytes: not a text CSV "
                "(UTF-16? save as UTF-8)"
            )
        yield text


def _first_record(reader: Iterable[list[str]]) -> list[str] | None:
    for record in reader:
        if any(cell.strip() for cell in record):
            return record
    return None


def _map_header(header: list[str], origin: str) -> tuple[int | None, int, list[tuple[int, str]]]:
    """Where the account and user columns are (account None: there is none, every row is
    `*`), and the carried (index, name) pairs."""
    names = [cell.strip() for cell in header]
    written = _written_by_offboard(names)
    if written:
        # A list offboard wrote (token_blocked.csv, say): its account and user as the input
        # gave them, and the input's own carried columns after the report's.
        return 1, 2, [(i, n) for i, n in enumerate(names) if i >= written]
    # No account column means `*` on every row; without a user column either, the file is
    # not a batch at all, and the account is what it lacks first.
    has_user = any(name.lower() in USER_NAMES for name in names)
    account_at = _find_column(names, ACCOUNT_NAMES, "account", origin, optional=has_user)
    user_at = _find_column(names, USER_NAMES, "user", origin)
    assert user_at is not None
    carried: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if index in (account_at, user_at):
            continue
        name = name or f"column_{index + 1}"
        if name in seen:
            raise SourceError(f"{origin}: line 1: column {name!r} appears twice")
        seen.add(name)
        carried.append((index, name))
    return account_at, user_at, carried


def _written_by_offboard(names: list[str]) -> int:
    """How many leading columns are the report's own, when `names` is the header of a list
    offboard wrote (0 when not). Lists written before `account_name` existed count too."""
    for columns in (REPORT_COLUMNS, REPORT_COLUMNS[: REPORT_COLUMNS.index("account_name")]):
        if tuple(names[: len(columns)]) == columns:
            return len(columns)
    return 0


def _find_column(
    names: list[str], aliases: tuple[str, ...], role: str, origin: str, optional: bool = False
) -> int | None:
    found = [i for i, name in enumerate(names) if name.lower() in aliases]
    if len(found) > 1:
        both = " and ".join(repr(names[i]) for i in found)
        raise SourceError(f"{origin}: line 1: columns {both} both name the {role}; keep one")
    if not found and optional and not (len(names) == 1 and ";" in names[0]):
        return None
    if not found:
        hint = ""
        if len(names) == 1 and ";" in names[0]:
            hint = " (the file looks semicolon-separated; offboard reads comma-separated CSV)"
        raise SourceError(
            f"{origin}: line 1: no {role!r} column (accepted: {', '.join(aliases)}){hint}"
        )
    return found[0]


def _csv_row(
    number: int,
    record: list[str],
    width: int,
    account_at: int | None,
    user_at: int,
    carried: list[tuple[int, str]],
) -> Row:
    cells = record + [""] * (width - len(record))
    extra = {name: cells[index] for index, name in carried}
    # A row with too many fields is kept, so that it is reported as invalid.
    problem = f"has {len(record)} fields, the header has {width}" if len(record) > width else ""
    account = EVERYWHERE if account_at is None else cells[account_at].strip()
    user = cells[user_at].strip()
    return Row(number, _unquoted(account), _unquoted(user), extra, problem)


def _unquoted(cell: str) -> str:
    """A cell offboard neutralised for spreadsheets ('=...), given back as written."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@") else cell
