"""What the user list says about people: emails to IDs, and every account each user has.

Built once per run from `GET /iam/users` (paginated). Pure data: the plan uses
it to resolve emails, the guards to match protected emails, and the deletion
check to tell whether a revoke removes a user's last account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str
    accounts: frozenset[int]
    name: str = ""


@dataclass(frozen=True, slots=True)
class Directory:
    """Live (non-deleted) users visible to the key."""

    people: Mapping[int, Person] = field(default_factory=dict)
    by_email: Mapping[str, Sequence[int]] = field(default_factory=dict)

    @classmethod
    def from_users(cls, users: Iterable[Any]) -> Directory:
        """From the API's User objects; anything malformed or deleted is left out."""
        people: dict[int, Person] = {}
        by_email: dict[str, list[int]] = {}
        for user in users:
            if not isinstance(user, dict) or user.get("deleted"):
                continue
            user_id, email = user.get("id"), user.get("email")
            if not isinstance(user_id, int) or not isinstance(email, str):
                continue
            roles = user.get("client_and_roles")
            accounts = frozenset(
                entry["client_id"] for entry in (roles if isinstance(roles, list) else [])
                if isinstance(entry, dict) and isinstance(entry.get("client_id"), int))
            name = user.get("name")
            people[user_id] = Person(user_id, email, accounts,
                                     name if isinstance(name, str) else "")
            by_email.setdefault(email.lower(), []).append(user_id)
        return cls(people, by_email)

    def ids_for(self, email: str) -> Sequence[int]:
        return self.by_email.get(email.lower(), ())
