"""Turn what the API answered into the contract's outcome: one pure function."""

from __future__ import annotations

from ..core.models import MAYBE_APPLIED, Exchange, Outcome
from ..http.retry import RETRY_STATUSES

_CANNOT_TELL = "the API cannot tell the two apart"


def classify(exchange: Exchange, in_flight_at_kill: bool = False) -> tuple[Outcome, str]:
    """The outcome of a revoke, and a message a person can act on. `in_flight_at_kill`: an
    earlier run into the same report sent this revoke and died before its answer came."""
    status = exchange.status
    if status is not None and 200 <= status < 300:
        retried = f" (after {exchange.attempts} attempts)" if exchange.attempts > 1 else ""
        return Outcome.REVOKED, f"access removed{retried}"
    if status == 404:
        if not maybe_applied(exchange, in_flight_at_kill):
            return Outcome.MISSING, (
                "user is not in this account (already offboarded, or a wrong ID)"
            )
        when, why = (
            ("on resume", "the run before was killed or interrupted with this request in flight")
            if in_flight_at_kill
            else ("on a retry", "it timed out, lost its connection or got a 5xx")
        )
        return Outcome.MISSING, f"404 {when}: {MAYBE_APPLIED} ({why}): {_CANNOT_TELL}"
    if status == 403 and "token" in exchange.message.lower():
        return Outcome.TOKEN_BLOCKED, (
            f"the user has active API tokens in this account: delete them, then run again"
            f"{_api_said(exchange)}"
        )
    return _otherwise(exchange)


def maybe_applied(exchange: Exchange, in_flight_at_kill: bool = False) -> bool:
    """A 404 that may answer an earlier attempt of this very revoke (its Result's
    `maybe_applied`; `classify` then says so in the message, in the contract's words)."""
    return exchange.status == 404 and (in_flight_at_kill or exchange.maybe_applied)


def classify_check(exchange: Exchange) -> tuple[Outcome, str]:
    """The outcome of `plan`'s membership check (GET on the same path as the revoke)."""
    status = exchange.status
    if status == 200:
        return Outcome.WOULD_REVOKE, "would revoke: the user is in this account"
    if status == 404:
        return Outcome.MISSING, "user is not in this account (already offboarded, or a wrong ID)"
    return _otherwise(exchange)


def _otherwise(exchange: Exchange) -> tuple[Outcome, str]:
    """Answers that mean the same whether offboard was revoking or only checking."""
    status, tries = exchange.status, _attempts(exchange.attempts)
    said = f": {exchange.message}" if exchange.message else ""
    api_said = _api_said(exchange)
    if status is None:
        return Outcome.FAILED, f"no answer {tries}; last error: {exchange.error}{exchange.note}"
    if status == 403:
        return Outcome.FORBIDDEN, f"this API key may not manage that account{api_said}"
    if status == 401:
        return Outcome.FAILED, f"the API key was rejected, run aborted{api_said}"
    if status in RETRY_STATUSES:
        return Outcome.FAILED, f"gave up {tries}; last answer {status}{said}{exchange.note}"
    if 300 <= status < 400:
        return Outcome.FAILED, f"unexpected redirect {status}: not followed, so the key stays here"
    return Outcome.FAILED, f"unexpected answer {status}{said}"


def _api_said(exchange: Exchange) -> str:
    said = f": {exchange.message}" if exchange.message else ""
    return f" ({exchange.status}{said})"


def _attempts(n: int) -> str:
    return f"after {n} attempt{'s' if n != 1 else ''}"
