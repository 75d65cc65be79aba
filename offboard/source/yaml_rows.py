"""Read a YAML SOURCE into a Batch: a plain list of rows, or a job file (users:/input:).

The loader is PyYAML's safe one with plain scalars (source/yaml_load.py): no YAML 1.1
octal, base-60 or dates, so a user ID means what it looks like. A job file's
keys are checked strictly; its settings are passed on, unread, for core/settings.py.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..core.errors import SourceError
from ..core.models import EVERYWHERE, Row
from .batch import Batch, check_readable, everywhere_because, sha256_of
from .csv_rows import ACCOUNT_NAMES, USER_NAMES, CsvRows
from .leaving import check_leave_date

# Job-file keys offboard understands; anything else is refused, so that a
# misspelt setting (or one from a newer version) is never silently ignored.
SETTING_KEYS = (
    "name",
    "rate",
    "concurrency",
    "max_attempts",
    "timeout",
    "report_dir",
    "protect",
    "max_revocations",
    "delete_tokens",
    "max_consecutive_failures",
    "active_days",
    "everywhere",
)
JOB_KEYS = frozenset({"users", "input", "sandbox", *SETTING_KEYS})
NOT_A_ROW = (
    "expected a mapping with account and user, like {account: 1000, user: alice@example.com}"
)


def read_yaml(path: Path, data: bytes) -> Batch:
    """The Batch of a YAML file's bytes: a list of rows, or a job mapping."""
    from .yaml_load import load_yaml  # PyYAML only when a YAML SOURCE is read

    document = load_yaml(_decode(data, str(path)), str(path))
    if isinstance(document, list):
        rows, columns = yaml_rows(document, str(path))
        return Batch(
            str(path),
            path.stem,
            tuple(rows),
            tuple(columns),
            sha256_of(io.BytesIO(data)),
            len(rows),
            everywhere=_no_account_key(document, str(path)),
        )
    if isinstance(document, dict):
        return _read_job(path, data, document)
    raise SourceError(
        f"{path}: expected a list of rows or a job mapping (users:/input:), found {_kind(document)}"
    )


def _decode(data: bytes, origin: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"{origin}: line {line}: not UTF-8 text (save the file as UTF-8 CSV)"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SourceError(
            f"{origin}: line {line}: contains NUL bytes: not a text CSV (UTF-16? save as UTF-8)"
        )
    return text


def yaml_rows(items: list[Any], origin: str) -> tuple[list[Row], list[str]]:
    """Rows of a YAML list; row numbers are 1-based positions. A list where no row has an
    account key (a plain list of `{user: email}`) names every person everywhere (`*`), as a
    CSV without an account column does."""
    rows: list[Row] = []
    columns: dict[str, None] = {}
    accounts = _has_accounts(items)
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            # plan/rows.py prefixes "row ": the message reads "row 3: expected a mapping ..."
            rows.append(Row(number, None, None, {}, f"{number}: {NOT_A_ROW}; got {_kind(item)}"))
            continue
        account: Any = None if accounts else EVERYWHERE
        user = None
        extra: dict[str, str] = {}
        problem = ""
        for key, value in item.items():
            name = str(key).strip()
            if name.lower() in ACCOUNT_NAMES:
                account = value
            elif name.lower() in USER_NAMES:
                user = value
            elif isinstance(value, (str, int, float, bool)) or value is None:
                extra[name] = "" if value is None else str(value)
                columns[name] = None
            else:
                problem = f"key {name!r} holds {_kind(value)}, not a plain value"
        row = Row(number, account, user, extra, problem)
        check_leave_date(row, origin)  # a bad leave_date refuses the file (exit 2)
        rows.append(row)
    return rows, list(columns)


def _has_accounts(items: list[Any]) -> bool:
    """Whether any row of a YAML list has an account key (or there is no row to have one)."""
    rows = [item for item in items if isinstance(item, dict)]
    return not rows or any(
        str(key).strip().lower() in ACCOUNT_NAMES for item in rows for key in item
    )


def _no_account_key(items: list[Any], origin: str) -> str:
    """The everywhere sentence when the list's rows were made `*` for want of an account."""
    return "" if _has_accounts(items) else everywhere_because(f"{origin} has no account key")


def _read_job(path: Path, data: bytes, job: dict[Any, Any]) -> Batch:
    origin = str(path)
    unknown = sorted(str(key) for key in job if key not in JOB_KEYS)
    if unknown:
        raise SourceError(
            f"{origin}: unknown key {unknown[0]!r} (known: {', '.join(sorted(JOB_KEYS))})"
        )
    if "users" not in job and "input" not in job:
        raise SourceError(f"{origin}: a job file needs users: (rows) and/or input: (a CSV path)")
    inline: tuple[Row, ...] = ()
    columns: dict[str, None] = {}
    hashed: list[BinaryIO] = [io.BytesIO(data)]
    from_csv: CsvRows | None = None
    csv_path: Path | None = None
    count = 0
    if "users" in job:
        users = job["users"]
        if not isinstance(users, list):
            raise SourceError(f"{origin}: users: must be a list of rows, found {_kind(users)}")
        more, names = yaml_rows(users, f"{origin}: users")
        inline, count = tuple(more), len(more)
        columns.update(dict.fromkeys(names))
    if "input" in job:
        if not isinstance(job["input"], str) or not job["input"].strip():
            raise SourceError(f"{origin}: input: must be a CSV path relative to the job file")
        found = csv_path = path.parent / job["input"]
        check_readable(found)
        from_csv = CsvRows(lambda: found.open("rb"), str(found))
        count += from_csv.check()
        columns.update(dict.fromkeys(from_csv.columns))
        hashed.append(found.open("rb"))
    sandbox = job.get("sandbox")
    if sandbox is not None and not isinstance(sandbox, dict):
        raise SourceError(f"{origin}: sandbox: must be a mapping, found {_kind(sandbox)}")
    settings = {key: job[key] for key in SETTING_KEYS if key in job}
    name = job.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        raise SourceError(f"{origin}: name: must be a non-empty string")
    if not isinstance(job.get("everywhere", False), bool):
        raise SourceError(f"{origin}: everywhere: must be true or false")
    return Batch(
        source=origin,
        name=_safe_name(name) if name else path.stem,
        rows=_Chain(inline, from_csv) if from_csv is not None else inline,
        columns=tuple(columns),
        sha256=sha256_of(*hashed),
        row_count=count,
        settings=settings,
        sandbox=sandbox,
        base_dir=path.parent,
        job_file=True,
        input_path=csv_path,
        everywhere=_job_everywhere(job, origin, from_csv),
    )


def _job_everywhere(job: dict[Any, Any], origin: str, from_csv: CsvRows | None) -> str:
    """Why a job file's rows name their persons everywhere ("" when they name accounts)."""
    if job.get("everywhere") is True:
        return everywhere_because(f"{origin} says everywhere: true")
    users = job.get("users")
    inline = isinstance(users, list) and bool(users) and not _has_accounts(users)
    if inline and (from_csv is None or from_csv.everywhere):
        return everywhere_because(f"{origin} names no account")
    if from_csv is not None and from_csv.everywhere and not users:
        return everywhere_because(f"{from_csv.origin} has no account column")
    if inline or (from_csv is not None and from_csv.everywhere):
        part = "users:" if inline else from_csv.origin if from_csv else ""
        return (
            f"every row of {part} means every account its user can reach (*): it names no account"
        )
    return ""


class _Chain:
    """Inline rows, then a CSV's, re-iterable."""

    def __init__(self, first: tuple[Row, ...], then: CsvRows) -> None:
        self._first, self._then = first, then

    def __iter__(self) -> Iterator[Row]:
        return itertools.chain(self._first, self._then)


def _safe_name(name: str) -> str:
    """A job name made safe for a directory name."""
    kept = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.strip())
    return kept.strip(".-") or "job"


def _kind(value: Any) -> str:
    """Describe a YAML value without printing it (it may be huge, or an alias bomb)."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"
