"""Which rows of a batch a run may send, and what an abort makes of the rest."""

from __future__ import annotations

from ..core.models import Action, Outcome
from ..source.read import Batch
from .planfile import Plan
from .rows import parse


def may_send(batch: Batch, planned: Plan | None) -> bool:
    if planned is not None:
        return any(action.send for action in planned.actions)
    return any(not isinstance(parse(row), str) for row in batch.rows)


def unsent(action: Action, reason: str) -> Action:
    """After an abort, a row that would have been sent (or resolved) was simply not sent."""
    if action.send or action.outcome is Outcome.FAILED:
        return action.unsent(reason)
    return action
