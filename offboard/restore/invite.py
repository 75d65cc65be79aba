"""A restore's work for one row, and how its rows run on the shared executor.

`Inviter` sends one invite (`POST /iam/clients/invite_user`, through the run's Api: its
rate limiter, retries and retry budget) and reads the answer into a `Restored`. `kind`
tells execute/workers.py which rows send and how the rows it settles itself end (the
ones decided without a request, the ones an abort left unsent, a worker that raised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core.models import Exchange
from ..core.restore_record import RestoreOutcome
from ..execute.workers import RowKind
from ..http.api import Api
from .plan import Restored, Step


@dataclass(frozen=True, slots=True)
class Inviter:
    async def __call__(self, item: Step, api: Api) -> Restored:
        revoked = item.revoked
        exchange = await api.invite(
            revoked.account, revoked.email, revoked.role or 0, revoked.name, revoked.lang
        )
        outcome, message, new_id = classify(exchange, item)
        return Restored(
            revoked,
            outcome,
            message,
            exchange.status,
            exchange.attempts,
            exchange.request_id,
            new_id,
        )


def kind(plan: bool) -> RowKind[Step, Restored]:
    """A restore's rows: a step with no outcome decided sends its invite (`--plan`: none
    does, each ends would_restore)."""

    def unsent(item: Step) -> Restored:
        return Restored(item.revoked, item.outcome or RestoreOutcome.WOULD_RESTORE, item.message)

    def not_attempted(item: Step, reason: str) -> Restored:
        return Restored(item.revoked, RestoreOutcome.NOT_ATTEMPTED, f"not sent: {reason}")

    def failed(item: Step, attempts: int, message: str) -> Restored:
        return Restored(item.revoked, RestoreOutcome.FAILED, message, attempts=attempts)

    return RowKind(
        lambda item: item.outcome is None and not plan,
        unsent,
        not_attempted,
        failed,
        lambda done: done.outcome is RestoreOutcome.FAILED,
    )


def classify(exchange: Exchange, item: Step) -> tuple[RestoreOutcome, str, int | None]:
    """An invite's answer as the restore's outcome, message and the user's ID now."""
    revoked, body = item.revoked, exchange.body
    if exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("user_id"), int):
        new_id = body["user_id"]
        message = f"invited back to account {revoked.account} as {revoked.role_name}"
        if new_id != revoked.user_id:
            message += (
                f"; a new user (ID {new_id}, was {revoked.user_id}): they must "
                "accept the invitation e-mail"
            )
        return RestoreOutcome.RESTORED, message, new_id
    text = json.dumps(body) if body is not None else exchange.message
    if exchange.status == 400 and "already been invited" in text:
        return RestoreOutcome.ALREADY_MEMBER, "already a member of the account: left alone", None
    if exchange.status == 400 and "user_role" in text:
        return (
            RestoreOutcome.NOT_RESTORABLE,
            f"the role {revoked.role_name} no longer exists in "
            f"account {revoked.account} (400: {text[:200]}): offboard does not guess "
            "another",
            None,
        )
    status = exchange.status if exchange.status is not None else exchange.error
    message = f"invite failed ({status}: {exchange.message or text})"[:400]
    return RestoreOutcome.FAILED, message, None
