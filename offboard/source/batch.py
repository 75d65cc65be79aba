"""The `Batch` a SOURCE is read into, and the file checks every reader of one shares.

source/read.py picks the reader by suffix; source/csv_rows.py and source/yaml_rows.py do the
reading. All three build on this module, which imports none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from ..core.errors import SourceError
from ..core.models import Row


@dataclass(frozen=True, slots=True)
class Batch:
    """Everything a SOURCE says: its rows, carried columns and job settings."""

    source: str
    name: str
    rows: Iterable[Row]  # re-iterable: a CSV is read again, lazily, each time
    columns: tuple[str, ...]
    sha256: str
    row_count: int
    settings: Mapping[str, Any] = field(default_factory=dict)
    sandbox: Mapping[str, Any] | None = None
    base_dir: Path = Path()
    job_file: bool = False
    input_path: Path | None = None  # a job file's `input:` CSV
    # Why every row names its person everywhere (`*`), for the first line of the plan and
    # the prompt: "" when the rows name their accounts. (--everywhere is the Job's.)
    everywhere: str = ""


def everywhere_because(what: str) -> str:
    """The sentence that says every row of a batch means every account, and why."""
    return f"{what}: every row means every account its user can reach (*)"


def check_readable(path: Path) -> None:
    """Refuse, as a SourceError, a path that is missing, a directory, unreadable or empty."""
    try:
        with path.open("rb") as handle:
            empty = not handle.read(1)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a CSV or YAML file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    if empty:
        raise SourceError(f"{path}: the file is empty (0 bytes)")


def sha256_of(*handles: BinaryIO) -> str:
    """The sha256 of the handles' bytes, one after another, read in chunks."""
    digest = hashlib.sha256()
    for handle in handles:
        with handle:
            for chunk in iter(partial(handle.read, 1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
