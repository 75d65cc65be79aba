"""The request log: one record per API request, kept in arrival order."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestRecord:
    time: float  # time.monotonic() when the request arrived
    method: str
    path: str
    query: str  # the raw query string
    status: int | None  # None: the connection was dropped without a response
    applied: bool  # the request changed state (a revoke or token delete took effect)
    request_id: str


class RequestLog:
    """Thread-safe. A slot is reserved on arrival and filled on completion, so a slow request
    (a scripted delay) keeps its arrival position instead of jumping behind later ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: list[RequestRecord | None] = []

    def reserve(self) -> int:
        with self._lock:
            self._slots.append(None)
            return len(self._slots) - 1

    def fill(self, slot: int, record: RequestRecord) -> None:
        with self._lock:
            self._slots[slot] = record

    def records(self) -> list[RequestRecord]:
        """Completed requests in arrival order; requests still in flight are left out."""
        with self._lock:
            return [record for record in self._slots if record is not None]
