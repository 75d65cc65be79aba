"""Templates compiled by an earlier run, kept on disk for the next one.

Compiling report.html and summary.txt costs about 60 ms of CPU, more than the
rest of a run without rows; loading them compiled costs under 1 ms.

This is Jinja2's file cache in its default place: a directory of the user's own
(made 0700, and checked to be, under the system temp directory). An entry is
used only while its template, Jinja2, Python and the module that sets up the
environment (whose options shape the compiled code) are all unchanged; else it
is compiled again and replaced. A cache that cannot be made, read or written is
no cache: the pages are compiled as before.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket


def compiled_cache(configured_by: Path) -> jinja2.BytecodeCache | None:
    """The cache for the environment that the module `configured_by` sets up (None: none)."""
    try:
        fingerprint = jinja2.__version__ + hashlib.sha256(configured_by.read_bytes()).hexdigest()
        return _Cache(fingerprint)
    except (OSError, RuntimeError):  # no directory that only this user can write
        return None


class _Cache(jinja2.FileSystemBytecodeCache):
    def __init__(self, fingerprint: str) -> None:
        super().__init__()
        self._fingerprint = fingerprint

    def get_source_checksum(self, source: str) -> str:
        return hashlib.sha256((self._fingerprint + source).encode("utf-8")).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry: compiled again, and replaced
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk: compiled next time
            super().dump_bytecode(bucket)
