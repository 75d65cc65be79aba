"""OSErrors on the paths a person names, as the one line offboard prints for them.

Python's `Path.exists()` and `Path.is_dir()` answer False for a missing path but
raise for one they may not look at (a parent folder at mode 000: EACCES), so
every question offboard asks about a path the person named goes through here
and a refusal names the path and the OS's reason, never an exception class.
"""

from __future__ import annotations

from pathlib import Path

from .errors import Refused


def reason(exc: OSError) -> str:
    """The OS's words for the error ("Permission denied"), never the class name."""
    return exc.strerror or str(exc) or type(exc).__name__


def is_dir(path: Path, error: type[Refused], prefix: str = "") -> bool:
    """`path.is_dir()`, or `error("<prefix><path>: <reason>")` if the OS will not say."""
    try:
        return path.is_dir()
    except OSError as exc:
        raise error(f"{prefix}{path}: {reason(exc)}") from None


def exists(path: Path, error: type[Refused], prefix: str = "") -> bool:
    """`path.exists()`, or `error("<prefix><path>: <reason>")` if the OS will not say."""
    try:
        return path.exists()
    except OSError as exc:
        raise error(f"{prefix}{path}: {reason(exc)}") from None
