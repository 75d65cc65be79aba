"""Proof of removal: after the revokes, read membership back and record a verdict per row.

Two reads exist in Gcore's spec, and the cheaper one for the batch is used,
under the run's one rate limiter:

- per row: `GET /iam/clients/{account}/client-users/{user}`, 404 = gone
  (one request per revoked row);
- the listing: `GET /iam/users`, 100 users a request, read once; a user absent
  (deleted) or without that account in `client_and_roles` is gone.

The listing costs ceil(users / 100) requests, known from the run's own listing;
per row costs one request per revoked row. When the batch names a person everywhere
(`*`), the listing is read whatever it costs: it is the proof of what each person
still reaches afterwards (report/people.py), and the per-row read cannot see an
account the key may not manage. A row the read contradicts (the user
is still in the account) is read again, per row, after 1, 2 and 4 s, since
reads can lag behind writes; still there, it becomes `failed` with the reason,
and the exit code says so. A read that gets no clear answer leaves the row
unverified (empty), with a note, never "verified".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import anyio

from ..core.models import ReadBack
from ..http.api import Api, DirectoryError, RequestNotSent
from ..journal.layout import now

PAGE = 100  # users per listing request (api.USERS_PAGE)
REREADS = (1.0, 2.0, 4.0)  # waits before reading a contradicted row again


@dataclass(frozen=True, slots=True)
class Check:
    """A revoked row to read back."""

    row: int
    account: int
    user: Any  # as written in the input (with row and account: the journal's key)
    user_id: int

    @property
    def key(self) -> tuple[int, int]:
        """(row, account): a row named with `*` has one pair per account."""
        return (self.row, self.account)


def cheaper(rows: int, known_users: int | None) -> str:
    """The read with fewer requests for this batch."""
    if known_users is None:
        return "per_row"
    return "listing" if math.ceil(max(known_users, 1) / PAGE) < rows else "per_row"


async def read_back(
    api: Api,
    checks: list[Check],
    known_users: int | None,
    concurrency: int,
    *,
    listing: bool = False,
) -> ReadBack:
    """Read the revoked rows back; `listing` asks for the user listing whatever it costs
    (the batch names people everywhere, and their verdict needs it)."""
    if not checks and not listing:
        return ReadBack({}, "", 0)
    method = "listing" if listing else cheaper(len(checks), known_users)
    verdicts: dict[tuple[int, int], dict[str, Any]] = {}
    after: dict[int, frozenset[int]] | None = None
    names: dict[int, str] = {}
    sent = [0]
    contradicted: list[Check] = []
    if method == "listing":
        ids: list[str] = []
        try:
            directory = await api.list_users(ids)
        except (DirectoryError, RequestNotSent) as exc:
            reason = api.abort_reason or str(exc)
            return ReadBack(
                {c.key: _unverified(f"read-back failed: {reason}") for c in checks},
                method,
                len(ids) + 1,
            )
        sent[0] += len(ids)
        read_id = ids[-1] if len(ids) == 1 else f"{ids[0]}..{ids[-1]} ({len(ids)} pages)"
        after = {user: person.accounts for user, person in directory.people.items()}
        names = dict(directory.names)
        # One read answers every row it shows gone, at one moment: one verdict, shared by
        # those rows (read only), journaled with its part encoded once (journal/writer.py).
        gone = _gone(read_id)
        for check in checks:
            person = directory.people.get(check.user_id)
            if person is None or check.account not in person.accounts:
                verdicts[check.key] = gone
            else:
                contradicted.append(check)
    else:
        contradicted = checks
    limit = anyio.CapacityLimiter(max(1, concurrency))

    async def confirm(check: Check) -> None:
        async with limit:
            verdicts[check.key] = await _per_row(api, check, sent, again=method == "listing")

    async with anyio.create_task_group() as group:
        for check in contradicted:
            group.start_soon(confirm, check)
    if after is not None:  # what the re-reads settled wins over the listing's first word
        for check in contradicted:
            if verdicts[check.key].get("verified") is True:
                after[check.user_id] = after.get(check.user_id, frozenset()) - {check.account}
    return ReadBack(verdicts, method, sent[0], after, names)


async def _per_row(api: Api, check: Check, sent: list[int], again: bool) -> dict[str, Any]:
    """Read one row's membership; a contradiction is read again after REREADS."""
    waits = (*REREADS,) if again else (0.0, *REREADS)
    exchange = None
    for wait in waits:
        if wait:
            await api.clock.sleep(wait)
        try:
            exchange = await api.check_member(check.account, check.user_id)
        except RequestNotSent:
            return _unverified(f"read-back not sent: {api.abort_reason}")
        sent[0] += 1
        if exchange.status == 404:
            return _gone(exchange.request_id)
        if exchange.status != 200:
            return _unverified(f"read-back answered {exchange.status or exchange.error}")
    assert exchange is not None
    seconds = sum(REREADS)
    reads = len(waits) + (1 if again else 0)  # after the listing, that read counts too
    return {
        "verified": False,
        "verified_at": now(),
        "verify_request_id": exchange.request_id,
        "outcome": "failed",
        "user_deleted": False,
        "message": (
            f"revoked (200), but reading membership back still finds the user in "
            f"account {check.account} after {reads} reads over {seconds:g} s "
            f"(request ID {exchange.request_id}): access may remain; check it in "
            "the Gcore console, then run the row again"
        ),
    }


def _gone(request_id: str) -> dict[str, Any]:
    return {"verified": True, "verified_at": now(), "verify_request_id": request_id}


def _unverified(note: str) -> dict[str, Any]:
    return {"verified": None, "verified_at": now(), "verify_note": note}
