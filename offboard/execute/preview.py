"""`plan`'s work for one row: what would a revoke do? Reads only, never a DELETE.

Membership is checked with GET on the revoke's own path; a member's live API
tokens (which would block the revoke) are listed; and the row says when the
revoke would remove the user's last account, so that Gcore would delete them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.models import SENT_FROM_PLAN, Action, Outcome, Result, Token
from ..http.api import Api, DirectoryError
from ..plan.deletions import Deletions
from .classify import classify_check


@dataclass(frozen=True, slots=True)
class Previewer:
    deletions: Deletions = field(default_factory=Deletions)

    async def __call__(self, action: Action, api: Api) -> Result:
        assert action.account is not None and action.user_id is not None
        account, user_id = action.account, action.user_id
        exchange = await api.check_member(account, user_id)
        outcome, message = classify_check(exchange)
        tokens: list[Token] = []
        if outcome is Outcome.WOULD_REVOKE:
            try:
                tokens = await api.live_token_details(account, user_id)
            except DirectoryError as exc:
                outcome, message = Outcome.FAILED, str(exc)
        if tokens:
            outcome = Outcome.TOKEN_BLOCKED
            listed = ", ".join(str(t.id) for t in tokens)
            message = (
                f"live API tokens {listed} would block the revoke "
                "(--delete-tokens on run deletes them first)"
            )
        deletes: bool | None = False
        if outcome in SENT_FROM_PLAN:
            deletes = self.deletions.planned_mark(user_id, action.row.number, account)
            if deletes:
                message += (
                    "; the batch revokes every account of this user: Gcore would delete the user"
                )
        return Result(
            action.row,
            outcome,
            account,
            user_id,
            exchange.status,
            exchange.attempts,
            exchange.request_id,
            message,
            tuple(tokens),
            user_deleted=deletes,
            account_name=action.account_name,
            everywhere=action.everywhere,
        )
