"""Who the batch revoked but did not delete, and which accounts each of them keeps.

The journal's records say which accounts a user lost (their revoked rows) and whether a
row deleted them (`user_deleted` true on any of their rows: not necessarily the first). The
user list the run read before its first DELETE (on a resume, with run.json's copy) says
every account each user had, and `client_and_roles` names them. Nothing here sends a
request: a person the list did not show keeps accounts "not known".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.directory import Person
from ..core.models import REVOKING


@dataclass
class Kept:
    """Filled record by record in the one pass over the journal (report_files.Written)."""

    who: dict[int, tuple[str, str]] = field(default_factory=dict)  # user_id -> (name, email)
    lost: dict[int, list[str]] = field(default_factory=dict)  # user_id -> accounts revoked
    deleted: set[int] = field(default_factory=set)

    def add(self, record: Mapping[str, Any]) -> None:
        user = record.get("user_id")
        if not isinstance(user, int) or isinstance(user, bool):
            return
        if record.get("user_deleted") is True:
            self.deleted.add(user)
        if record.get("outcome") in REVOKING:
            self.who.setdefault(
                user, (str(record.get("name") or ""), str(record.get("email") or ""))
            )
            self.lost.setdefault(user, []).append(str(record.get("account")))

    def listed(
        self, people: Mapping[int, Person], names: Mapping[int, str], shown: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The first `shown` users revoked but not deleted, in input order, each with the
        accounts they keep ({"id", "name"}; None when the user list did not show them),
        and how many such users there are."""
        users = [user for user in self.who if user not in self.deleted]
        listed = []
        for user in users[:shown]:
            name, email = self.who[user]
            person = people.get(user)
            lost = set(self.lost[user])
            keeps = (
                None
                if person is None
                else [
                    {"id": account, "name": names.get(account, "")}
                    for account in sorted(person.accounts)
                    if str(account) not in lost
                ]
            )
            listed.append(
                {
                    "user_id": user,
                    "name": name or (person.name if person else ""),
                    "email": email or (person.email if person else ""),
                    "revoked": self.lost[user],
                    "keeps": keeps,
                }
            )
        return listed, len(users)
