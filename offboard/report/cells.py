"""One CSV row's cells as every list of a report writes them (report/lists.py, the
restore's lists): a spreadsheet never runs a cell as a formula, a bool is true/false,
tokens are "id name" joined by "; ", an empty value is an empty cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any

# A spreadsheet runs a cell starting with one of these as a formula (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_FORMULA_SET = frozenset(_FORMULA_START)  # "" (an empty cell's [:1]) is not in it


class Line:
    """Where the csv module writes one row's text, so that it is made once for every list."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text = text


def with_bom(handle: IO[str]) -> IO[str]:
    """A UTF-8 file that starts with the byte-order mark: the bytes "utf-8-sig" writes,
    without that codec's encoder, which runs in Python on every write (three a row)."""
    handle.write("\ufeff")
    return handle


def neutralise(cell: str) -> str:
    """Prefix a quote so a spreadsheet shows the text instead of running it."""
    return "'" + cell if cell and cell[0] in _FORMULA_START else cell


def cells(
    record: Mapping[str, Any], names: Sequence[str], over: Mapping[str, Any] | None = None
) -> list[str]:
    """neutralise(_cell(record.get(name))) for each name, in one loop (`over`: values that
    take the record's place, as {**record, **over} would): a row has ~20 cells and this runs
    for every row, so a string, an int or an empty cell takes no call at all."""
    get = record.get if over is None else {**record, **over}.get
    out: list[str] = []
    append = out.append
    for name in names:
        value = get(name)
        if type(value) is str:
            cell = value
        elif type(value) is int:  # exactly int: a bool is its own type, "true"/"false" in _cell
            cell = str(value)
        elif value is None:
            cell = ""
        else:
            cell = _cell(value)
        append("'" + cell if cell[:1] in _FORMULA_SET else cell)
    return out


def _cell(value: Any) -> str:
    if type(value) is str:  # most cells: the one check they need (a row's CSV has ~30)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # tokens: "501 ci (a@x.io)"
        return "; ".join(_token(item) for item in value)
    return "" if value is None else str(value)


def _token(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    return f"{item.get('id')} {item.get('name') or ''}".strip()
