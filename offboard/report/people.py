"""People, not pairs: for each person the batch names, is this person gone?

HR names people; a person may reach several accounts. Filled record by record in the
one pass over the journal (report/lists.py), this answers per person, with proof:

    before          the accounts the user list showed when the run began (run.json's copy
                    on a resume): `client_and_roles`, as far as the key can see
    revoked         the accounts this run revoked (a plan: would revoke), with those whose
                    404 may answer the run's own earlier attempt (`maybe_applied`)
    still_reaches   after the run: the read-back listing's accounts when it was read (the
                    proof), else `before` less what the batch removed or found missing
                    (verified stays empty). The listing shows only users in an account the
                    key manages: a user it no longer shows is deleted when the batch removed
                    every account they had, and otherwise still reaches the ones it did not
                    (accounts this key cannot see)

A person named everywhere (`*`, --everywhere) who still reaches an account needs a
person: the exit code is 1. One named by explicit pairs who still reaches accounts the
batch did not name is only reported ("not in this batch"): the batch scoped them on
purpose. Nothing here sends a request.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.directory import Person
from ..core.models import GONE, REVOKING, Mode
from ..core.words import account_words

PEOPLE_FILE = "people.csv"
PEOPLE_COLUMNS = (
    "email",
    "name",
    "user_id",
    "accounts_before",
    "revoked",
    "still_reaches",
    "user_deleted",
    "verified",
)


@dataclass
class People:
    """What the journal's records say about each named user (a few sets per person)."""

    order: dict[int, None] = field(default_factory=dict)  # user IDs in input order
    everywhere: set[int] = field(default_factory=set)  # named with `*`
    named: dict[int, set[int]] = field(default_factory=dict)  # accounts the batch named
    revoked: dict[int, list[int]] = field(default_factory=dict)
    removed: dict[int, set[int]] = field(default_factory=dict)  # revoked, or found missing
    deleted: set[int] = field(default_factory=set)
    # the read-back of their revoked rows: True all verified, False one contradicted,
    # None (absent) when one was not read back
    verified: dict[int, bool | None] = field(default_factory=dict)
    # the rows named with `*` and the pairs each became (the first SHOWN of them), and
    # how many such rows there are
    expansions: list[dict[str, Any]] = field(default_factory=list)
    expansions_n: int = 0
    shown: int = 10

    def add(self, record: Mapping[str, Any]) -> None:
        user, account = record.get("user_id"), record.get("account")
        if record.get("everywhere") is True:
            self._expanded(record)
        if not isinstance(user, int) or isinstance(user, bool):
            return
        self.order.setdefault(user, None)
        if record.get("everywhere") is True:
            self.everywhere.add(user)
        if record.get("user_deleted") is True:
            self.deleted.add(user)
        if not isinstance(account, int) or isinstance(account, bool):
            return
        self.named.setdefault(user, set()).add(account)
        outcome = record.get("outcome")
        if outcome in GONE or outcome in REVOKING:
            self.removed.setdefault(user, set()).add(account)
        if outcome in REVOKING or record.get("maybe_applied") is True:
            # A 404 that may answer our own earlier attempt (a lost answer, a kill) counts
            # as this batch's revoke, as the deletion count reads it (plan/deletions.py).
            self.revoked.setdefault(user, []).append(account)
        if outcome in REVOKING:
            verified = record.get("verified")
            earlier = self.verified.get(user, True)
            if verified is False or earlier is False:
                self.verified[user] = False
            elif verified is not True or earlier is None:
                self.verified[user] = None
            else:
                self.verified[user] = True

    def _expanded(self, record: Mapping[str, Any]) -> None:
        """A pair of a `*` row: records come in input order, so a row's pairs are together."""
        row = record.get("row")
        last = self.expansions[-1] if self.expansions else None
        if last is None or last["row"] != row:
            self.expansions_n += 1
            if len(self.expansions) >= self.shown:
                return
            last = {"row": row, "user": str(record.get("user")), "accounts": []}
            self.expansions.append(last)
        elif self.expansions_n > len(self.expansions):
            return  # a pair of a row past the shown ones
        account = record.get("account")
        if isinstance(account, int) and not isinstance(account, bool):
            last["accounts"].append(
                {
                    "id": account,
                    "name": str(record.get("account_name") or ""),
                    "outcome": str(record.get("outcome")),
                }
            )

    def lines(
        self,
        before: Mapping[int, Person],
        names: Mapping[int, str],
        after: Mapping[int, frozenset[int]] | None,
        mode: Mode,
    ) -> Iterator[dict[str, Any]]:
        """One line per person who exists (the user list showed them), in input order."""
        read_back = after is not None and mode is Mode.RUN
        # each account's entry made once and shared by every line that lists it (read only):
        # a batch's people are in a few accounts, and 3,000 lines made ~12,000 of them
        entries: dict[int, dict[str, Any]] = {}

        def listed(ids: Iterable[int]) -> list[dict[str, Any]]:
            return [
                entries.get(a) or entries.setdefault(a, {"id": a, "name": names.get(a, "")})
                for a in ids
            ]

        for user in self.order:
            person = before.get(user)
            if person is None:
                continue
            removed = self.removed.get(user, set())
            if read_back:
                assert after is not None
                shown = after.get(user)
                still = sorted(person.accounts - removed if shown is None else shown)
                verified: bool | None = self.verified.get(user, True) is not False
            else:
                gone_user = user in self.deleted and mode is Mode.RUN
                still = [] if gone_user else sorted(person.accounts - removed)
                verified = self.verified.get(user) if user in self.revoked else None
                verified = verified if mode is Mode.RUN else None
            named = self.named.get(user, set())
            yield {
                "user_id": user,
                "name": person.name,
                "email": person.email,
                "everywhere": user in self.everywhere,
                "before": listed(sorted(person.accounts)),
                "revoked": listed(self.revoked.get(user, ())),
                "still_reaches": listed(still),
                "outside_batch": listed([a for a in still if a not in named]),
                "user_deleted": user in self.deleted,
                "verified": verified,
                "gone": not still,
            }


@dataclass
class Verdict:
    """The counts summary.json gives, and the persons named everywhere still reaching an
    account (the exit code's reason), from the lines."""

    people: int = 0
    gone: int = 0
    remaining: int = 0
    stranded: int = 0  # persons named everywhere who still reach an account
    named: list[dict[str, Any]] = field(default_factory=list)  # the first few of them
    # for the pages: those named everywhere who are not gone, then the others not gone,
    # then the gone, each in input order (at most `keep`)
    shown: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: dict[str, Any], keep: int) -> None:
        self.people += 1
        if line["gone"]:
            self.gone += 1
        else:
            self.remaining += 1
            if line["everywhere"]:
                self.stranded += 1
                if len(self.named) < keep:
                    self.named.append(line)
        # After every line of its kind already shown (input order within each kind), as
        # appending and a stable sort would put it, without sorting the list again each time.
        bisect.insort_right(self.shown, line, key=_first_shown)
        del self.shown[keep:]  # bounded

    def to_summary(self) -> dict[str, int]:
        return {
            "people": self.people,
            "people_gone": self.gone,
            "people_remaining": self.remaining,
        }


def _first_shown(line: dict[str, Any]) -> tuple[bool, bool]:
    return (line["gone"], not line["everywhere"])


def account_list(accounts: list[dict[str, Any]]) -> str:
    """ "1000 Acme HQ; 2000 Acme Labs": a people.csv cell, ID then name."""
    return "; ".join(account_words(a["id"], a["name"]) for a in accounts)
