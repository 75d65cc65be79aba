"""classify: the contract's outcome table, row by row."""

import pytest

from offboard.core.models import Exchange, Outcome
from offboard.execute.classify import classify

TOKENS = "You can't remove the user as they have active tokens"
PERMISSION = "You do not have permission to perform this action."

TABLE = [
    # (exchange, outcome, words the message must contain)
    (Exchange(200, 1), Outcome.REVOKED, "removed"),
    (Exchange(204, 1), Outcome.REVOKED, "removed"),
    (Exchange(200, 3, maybe_applied=True), Outcome.REVOKED, "removed"),
    (Exchange(404, 1), Outcome.MISSING, "not in this account"),
    (Exchange(404, 2, maybe_applied=True), Outcome.MISSING, "may have revoked"),
    (Exchange(403, 1, message=TOKENS), Outcome.TOKEN_BLOCKED, "tokens"),
    (Exchange(403, 1, message="User has API TOKEN(s)"), Outcome.TOKEN_BLOCKED, "TOKEN"),
    (Exchange(403, 1, message=PERMISSION), Outcome.FORBIDDEN, "may not manage"),
    (Exchange(403, 1), Outcome.FORBIDDEN, "may not manage"),
    (Exchange(401, 1), Outcome.FAILED, "rejected"),
    (Exchange(503, 5, message="busy"), Outcome.FAILED, "after 5 attempts; last answer 503"),
    (Exchange(429, 5), Outcome.FAILED, "last answer 429"),
    (Exchange(429, 1, note=" (the API asked to wait 3600 s)"), Outcome.FAILED, "wait 3600 s"),
    (
        Exchange(None, 2, error="ReadError", note=" (not retried: budget)"),
        Outcome.FAILED,
        "ReadError (not retried: budget)",
    ),
    (Exchange(None, 5, error="ConnectError: refused"), Outcome.FAILED, "ConnectError"),
    (Exchange(400, 1, message="bad"), Outcome.FAILED, "unexpected answer 400: bad"),
    (Exchange(409, 1), Outcome.FAILED, "unexpected answer 409"),
    (Exchange(301, 1), Outcome.FAILED, "redirect"),
]


@pytest.mark.parametrize(("exchange", "outcome", "words"), TABLE)
def test_classify_table(exchange, outcome, words):
    """Each API answer maps to the contract's outcome with an actionable message."""
    got, message = classify(exchange)
    assert got is outcome
    assert words in message


def test_plain_404_does_not_claim_an_earlier_attempt():
    """Only a 404 after a possibly-applied attempt mentions an earlier revoke."""
    assert "earlier" not in classify(Exchange(404, 1))[1]


def test_settled_outcomes_are_the_contracts_exit_zero_set():
    """Exit code 0 exactly when every row is revoked, missing, duplicate or would_revoke."""
    settled = {o.value for o in Outcome if o.settled}
    assert settled == {"revoked", "missing", "duplicate", "would_revoke"}


def test_a_404_on_resume_names_the_kill_not_a_timeout():
    """The row a killed run had in flight: its 404 on resume says the run was killed with the
    request in flight (the contract's "may have revoked"), not that it timed out or got a 5xx."""
    got, message = classify(Exchange(404, 1, maybe_applied=True), in_flight_at_kill=True)
    assert got is Outcome.MISSING
    assert "an earlier attempt may have revoked the access" in message
    assert "killed or interrupted with this request in flight" in message
    assert "timed out" not in message and "5xx" not in message
    _, lost = classify(Exchange(404, 2, maybe_applied=True))
    assert "timed out, lost its connection or got a 5xx" in lost and "killed" not in lost
