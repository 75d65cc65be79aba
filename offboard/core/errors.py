"""Errors that stop offboard, and the exit code each one means.

    OffboardError                 one line for the person, an exit code
    ├── Refused          exit 2   refused to start: nothing was sent
    │   ├── SourceError           the SOURCE cannot be read at all (names file, line, field)
    │   └── SettingsError         a bad option, job-file key or API key source
    └── Aborted          exit 3   stopped mid-run; the report is still written
        └── AuthRejected          the API answered 401: the key is bad or revoked

Foreign exceptions (csv, yaml, OSError, httpx) are translated where they are
caught, with `raise ... from exc`, so no message ever needs a traceback.
"""

from __future__ import annotations


class OffboardError(Exception):
    """Base of every error offboard reports to a person."""

    exit_code = 3


class Refused(OffboardError):
    """offboard refused to start; no request was sent."""

    exit_code = 2


class SourceError(Refused):
    """The SOURCE file cannot be read as a batch."""


class SettingsError(Refused):
    """An option, a job-file setting or the API key is unusable."""


class Aborted(OffboardError):
    """The run stopped before every row was sent."""

    exit_code = 3


class AuthRejected(Aborted):
    """The API rejected the key (401); nothing more may be sent."""
