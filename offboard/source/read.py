"""Read a SOURCE (CSV, YAML row list, YAML job file, or CSV on stdin) into a Batch.

Reading only checks that the file is a batch at all; whether each row is
usable is decided later, per row, by plan/rows.py. A file that cannot be read as a
batch raises SourceError: one line naming the file, the line and the fix.

This module picks the reader; the reading is in source/csv_rows.py and
source/yaml_rows.py, the Batch they build in source/batch.py. Their public names are
re-exported here, so callers import from `offboard.source.read` alone.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from ..core.errors import SourceError
from .batch import Batch, check_readable, everywhere_because, sha256_of
from .csv_rows import ACCOUNT_NAMES, USER_NAMES, CsvRows, parse_csv
from .yaml_rows import JOB_KEYS, SETTING_KEYS, read_yaml, yaml_rows

__all__ = [
    "ACCOUNT_NAMES",
    "JOB_KEYS",
    "SETTING_KEYS",
    "USER_NAMES",
    "YAML_SUFFIXES",
    "Batch",
    "CsvRows",
    "parse_csv",
    "read_source",
    "yaml_rows",
]

YAML_SUFFIXES = (".yaml", ".yml")


def read_source(source: str, stdin: BinaryIO | None = None) -> Batch:
    """Read SOURCE, checking all of it; `-` is CSV on stdin (kept in memory: for big
    batches, give a file).

    A CSV is read through once here, to refuse a bad file before any request,
    and then again, lazily, each time its rows are iterated: memory does not
    grow with the number of rows.
    """
    if source == "-":
        data = stdin.read() if stdin is not None else b""
        if not data:
            raise SourceError("<stdin>: the input is empty (0 bytes)")
        rows = CsvRows(lambda: io.BytesIO(data), "<stdin>")
        count = rows.check()
        return Batch(
            "-",
            "stdin",
            rows,
            rows.columns,
            sha256_of(io.BytesIO(data)),
            count,
            everywhere=_no_account_column(rows),
        )
    path = Path(source)
    check_readable(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = CsvRows(lambda: path.open("rb"), source)
        count = rows.check()
        return Batch(
            source,
            path.stem,
            rows,
            rows.columns,
            sha256_of(path.open("rb")),
            count,
            everywhere=_no_account_column(rows),
        )
    if suffix in YAML_SUFFIXES:
        return read_yaml(path, path.read_bytes())
    raise SourceError(f"{source}: not a .csv, .yaml or .yml file")


def _no_account_column(rows: CsvRows) -> str:
    return everywhere_because(f"{rows.origin} has no account column") if rows.everywhere else ""
