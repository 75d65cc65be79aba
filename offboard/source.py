"""Read a SOURCE (CSV, YAML row list, YAML job file, or CSV on stdin) into a Batch.

Reading only checks that the file is a batch at all; whether each row is
usable is decided later, per row, by plan.py. A file that cannot be read as a
batch raises SourceError: one line naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from .errors import SourceError
from .models import Row

ACCOUNT_NAMES = ("account", "client_id", "clientid", "account_id")
USER_NAMES = ("user", "user_id", "userid", "email")

# Job-file keys offboard understands; anything else is refused, so that a
# misspelt setting (or one from a newer version) is never silently ignored.
SETTING_KEYS = ("name", "rate", "concurrency", "max_attempts", "timeout", "report_dir",
                "protect", "max_revocations", "delete_tokens", "max_consecutive_failures")
JOB_KEYS = frozenset({"users", "input", "sandbox", *SETTING_KEYS})

YAML_SUFFIXES = (".yaml", ".yml")


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
        return Batch("-", "stdin", rows, rows.columns, _sha256(io.BytesIO(data)), count)
    path = Path(source)
    _check_readable(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = CsvRows(lambda: path.open("rb"), source)
        count = rows.check()
        return Batch(source, path.stem, rows, rows.columns, _sha256(path.open("rb")), count)
    if suffix in YAML_SUFFIXES:
        return _read_yaml(path, path.read_bytes())
    raise SourceError(f"{source}: not a .csv, .yaml or .yml file")


def _check_readable(path: Path) -> None:
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


def _sha256(*handles: BinaryIO) -> str:
    """The sha256 of the handles' bytes, one after another, read in chunks."""
    digest = hashlib.sha256()
    for handle in handles:
        with handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                digest.update(chunk)
    return digest.hexdigest()


# --- CSV -------------------------------------------------------------------


class CsvRows:
    """The rows of a CSV, read lazily from `opener()` each time they are iterated.

    Row numbers are editor line numbers (header = 1, blank lines count). The
    bytes are decoded line by line, so an encoding error names its exact line.
    """

    def __init__(self, opener: Callable[[], BinaryIO], origin: str) -> None:
        self._opener = opener
        self.origin = origin
        self.columns: tuple[str, ...] = ()

    def check(self) -> int:
        """Read everything once, refusing an unreadable file; returns the number of rows."""
        count = 0
        for _ in self:
            count += 1
        return count

    def __iter__(self) -> Iterator[Row]:
        origin = self.origin
        with self._opener() as raw:
            reader = csv.reader(_text_lines(raw, origin), strict=True)
            try:
                header = _first_record(reader)
                if header is None:
                    raise SourceError(f"{origin}: no header line (expected columns account,user)")
                account_at, user_at, carried = _map_header(header, origin)
                self.columns = tuple(name for _, name in carried)
                line = reader.line_num
                for record in reader:
                    number, line = line + 1, reader.line_num
                    if any(cell.strip() for cell in record):
                        yield _csv_row(number, record, len(header), account_at, user_at, carried)
            except csv.Error as exc:
                raise SourceError(
                    f"{origin}: line {reader.line_num}: not valid CSV: {exc}") from None


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
            raise SourceError(f"{origin}: line {number}: contains NUL bytes: not a text CSV "
                              "(UTF-16? save as UTF-8)")
        yield text


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


def _first_record(reader: Iterable[list[str]]) -> list[str] | None:
    for record in reader:
        if any(cell.strip() for cell in record):
            return record
    return None


def _map_header(
    header: list[str], origin: str
) -> tuple[int, int, list[tuple[int, str]]]:
    """Where the account and user columns are, and the carried (index, name) pairs."""
    names = [cell.strip() for cell in header]
    account_at = _find_column(names, ACCOUNT_NAMES, "account", origin)
    user_at = _find_column(names, USER_NAMES, "user", origin)
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


def _find_column(names: list[str], aliases: tuple[str, ...], role: str, origin: str) -> int:
    found = [i for i, name in enumerate(names) if name.lower() in aliases]
    if len(found) > 1:
        both = " and ".join(repr(names[i]) for i in found)
        raise SourceError(f"{origin}: line 1: columns {both} both name the {role}; keep one")
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
    account_at: int,
    user_at: int,
    carried: list[tuple[int, str]],
) -> Row:
    cells = record + [""] * (width - len(record))
    extra = {name: cells[index] for index, name in carried}
    # A row with too many fields is kept, so that it is reported as invalid.
    problem = f"has {len(record)} fields, the header has {width}" if len(record) > width else ""
    return Row(number, cells[account_at].strip(), cells[user_at].strip(), extra, problem)


# --- YAML ------------------------------------------------------------------


def _read_yaml(path: Path, data: bytes) -> Batch:
    document = _load_yaml(data, str(path))
    if isinstance(document, list):
        rows, columns = yaml_rows(document, str(path))
        return Batch(str(path), path.stem, tuple(rows), tuple(columns),
                     _sha256(io.BytesIO(data)), len(rows))
    if isinstance(document, dict):
        return _read_job(path, data, document)
    raise SourceError(
        f"{path}: expected a list of rows or a job mapping (users:/input:), "
        f"found {_kind(document)}"
    )


class _Loader(yaml.SafeLoader):
    """Safe YAML with plain scalars: an integer is decimal digits and nothing else.

    PyYAML follows YAML 1.1, where `0101` is octal 65 and `1:41` is base-60 101:
    a user ID written that way would revoke someone the file never named. Dates
    stay text too (an impossible date would otherwise crash the loader).
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"),
                              list("-+0123456789"))


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> int | str:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    # Huge numbers stay text: plan.py reports them as too large for an ID.
    return int(text, 10) if len(text) <= 30 else text


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal)


def _load_yaml(data: bytes, origin: str) -> Any:
    try:
        return yaml.load(_decode(data, origin), Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SourceError(f"{origin}: {where}not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{origin}: not valid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise SourceError(f"{origin}: YAML nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a value PyYAML cannot build
        raise SourceError(f"{origin}: not valid YAML: a value cannot be read "
                          f"({type(exc).__name__})") from None


def yaml_rows(items: list[Any], origin: str) -> tuple[list[Row], list[str]]:
    """Rows of a YAML list; row numbers are 1-based positions."""
    rows: list[Row] = []
    columns: dict[str, None] = {}
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            rows.append(Row(number, None, None, {}, f"is {_kind(item)}, not a mapping"))
            continue
        account = user = None
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
        rows.append(Row(number, account, user, extra, problem))
    return rows, list(columns)


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
        _check_readable(found)
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
    return Batch(
        source=origin,
        name=_safe_name(name) if name else path.stem,
        rows=_Chain(inline, from_csv) if from_csv is not None else inline,
        columns=tuple(columns),
        sha256=_sha256(*hashed),
        row_count=count,
        settings=settings,
        sandbox=sandbox,
        base_dir=path.parent,
        job_file=True,
        input_path=csv_path,
    )


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
    return f"a {type(value).__name__}"
