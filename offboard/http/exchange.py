"""What one HTTP exchange can end as, whichever slot sent it (http/connections.py): a complete
`Reply`, or no answer, told apart by whether the server may have acted (`NotSent`, `Lost`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer: status, headers by lower-case name, the decoded body bytes."""

    status: int
    headers: Mapping[str, str]
    content: bytes


class Unanswered(Exception):
    """No answer came; `timed_out` when a timeout ended the wait."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class NotSent(Unanswered):
    """The request never reached the server (no connection): safe to send again."""


class Lost(Unanswered):
    """Sent, with no complete answer: the server may have acted on it."""


Heard = Callable[[int], Awaitable[None]]
"""Told an answer's status as soon as its head arrives; the body is read once it returns."""


def describe(exc: Exception) -> str:
    """An exception as one line, its type first."""
    return f"{type(exc).__name__}: {str(exc) or type(exc).__name__}"
