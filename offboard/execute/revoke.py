"""`run`'s work for one row: revoke, and deal with the API tokens that may block it.

Gcore refuses to remove a user who has live API tokens in the account. The
row then lists the blocking token IDs (looked up after the 403); with
--delete-tokens, the user's own live tokens in that account are deleted and
the revoke is sent again. Tokens issued by anyone else are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import Action, Exchange, Outcome, Result, Token
from ..http.api import Api, DirectoryError
from ..journal.reader import RowKey, row_key
from .classify import classify, maybe_applied


@dataclass(frozen=True, slots=True)
class Revoker:
    delete_tokens: bool = False
    # Rows an earlier, killed run had in flight: their revoke may already be applied.
    in_flight_before: frozenset[RowKey] = frozenset()

    async def __call__(self, action: Action, api: Api) -> Result:
        account, user_id = _pair(action)
        suspect = row_key(action.row, account) in self.in_flight_before
        exchange = await api.revoke(account, user_id, suspect=suspect)
        outcome, message = classify(exchange, in_flight_at_kill=suspect)
        if outcome is not Outcome.TOKEN_BLOCKED:
            return _result(
                action, exchange, outcome, message, maybe=maybe_applied(exchange, suspect)
            )
        try:
            tokens = await api.live_token_details(account, user_id)
        except DirectoryError as exc:
            return _result(action, exchange, outcome, f"{message}; {exc}")
        if not tokens:
            return _result(
                action,
                exchange,
                outcome,
                f"{message}; no live token of theirs was found: ask Gcore support",
            )
        listed = ", ".join(str(t.id) for t in tokens)
        if not self.delete_tokens:
            return _result(
                action,
                exchange,
                outcome,
                f"{message}; blocking API tokens: {listed} "
                "(--delete-tokens deletes them, then revokes)",
                tokens,
            )
        deleted: list[Token] = []
        for token in tokens:
            answer = await api.delete_token(account, token.id)
            # 404: already gone since we listed it, which is what we wanted.
            if answer.status not in (200, 204, 404):
                done = ", ".join(str(t.id) for t in deleted) or "none"
                why = answer.message or answer.error or f"HTTP {answer.status}"
                return _result(
                    action,
                    exchange,
                    outcome,
                    f"could not delete API token {token.id} ({why}); deleted: {done}",
                    tokens,
                )
            deleted.append(token)
        again = await api.revoke(account, user_id)
        outcome, message = classify(again)
        total = Exchange(
            again.status, exchange.attempts + again.attempts, again.message, again.request_id
        )
        return _result(
            action,
            total,
            outcome,
            f"deleted API tokens {listed}; {message}",
            tokens,
            maybe=maybe_applied(again),
        )


def _pair(action: Action) -> tuple[int, int]:
    assert action.account is not None and action.user_id is not None
    return action.account, action.user_id


def _result(
    action: Action,
    exchange: Exchange,
    outcome: Outcome,
    message: str,
    tokens: list[Token] | None = None,
    *,
    maybe: bool = False,
) -> Result:
    return Result(
        action.row,
        outcome,
        action.account,
        action.user_id,
        exchange.status,
        exchange.attempts,
        exchange.request_id,
        message,
        tuple(tokens or ()),
        maybe_applied=maybe,
        account_name=action.account_name,
        everywhere=action.everywhere,
    )
