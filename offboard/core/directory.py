"""What the user list says about people: emails to IDs, and every account each user has.

Built once per run from `GET /iam/users` (paginated). Pure data: the plan uses
it to resolve emails, the guards to match protected emails, and the deletion
check to tell whether a revoke removes a user's last account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring as _string  # the C encoder's, as json.dumps
from typing import Any


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str
    accounts: frozenset[int]
    name: str = ""
    lang: str = ""
    # account -> the user's role IDs there (`client_and_roles`): what a restore gives back
    roles: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def encoded(self) -> str:
        """`json.dumps(self.to_json(), ensure_ascii=False)`, the same text, made without
        the dict: run.json holds the batch's people and is written before the first DELETE,
        where a dict and an encoder call a person cost 3,000 rows about 30 ms."""
        roles = ", ".join(
            [
                f'"{account}": [{ids[0] if len(ids) == 1 else ", ".join(map(str, ids))}]'
                for account, ids in self.roles.items()
            ]
        )
        return (
            f'{{"name": {_string(self.name)}, "email": {_string(self.email)}, '
            f'"lang": {_string(self.lang)}, "roles": {{{roles}}}}}'
        )

    def to_json(self) -> dict[str, Any]:
        """As run.json records the batch's users (`from_json` reads it back)."""
        return {
            "name": self.name,
            "email": self.email,
            "lang": self.lang,
            "roles": {str(account): list(ids) for account, ids in self.roles.items()},
        }

    @classmethod
    def from_json(cls, user_id: int, data: Mapping[str, Any]) -> Person:
        given = data.get("roles")
        roles = {
            int(account): tuple(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
            for account, ids in (given.items() if isinstance(given, dict) else [])
            if str(account).isdigit() and isinstance(ids, list)
        }
        return cls(
            user_id,
            str(data.get("email") or ""),
            frozenset(roles),
            str(data.get("name") or ""),
            str(data.get("lang") or ""),
            roles,
        )


@dataclass(frozen=True, slots=True)
class Directory:
    """Live (non-deleted) users visible to the key."""

    people: Mapping[int, Person] = field(default_factory=dict)
    by_email: Mapping[str, Sequence[int]] = field(default_factory=dict)
    # account -> its name (`client_company_name`), as the list shows it: the report names
    # the accounts a revoked user keeps without a request of its own
    names: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def from_users(cls, users: Iterable[Any]) -> Directory:
        """From the API's User objects; anything malformed or deleted is left out. One pass
        over each user's `client_and_roles` gives both its roles and the accounts' names:
        each page of the list is read here while the run waits for the first DELETE."""
        people: dict[int, Person] = {}
        by_email: dict[str, list[int]] = {}
        names: dict[int, str] = {}
        for user in users:
            if not isinstance(user, dict) or user.get("deleted"):
                continue
            user_id, email = user.get("id"), user.get("email")
            if not isinstance(user_id, int) or not isinstance(email, str):
                continue
            roles: dict[int, tuple[int, ...]] = {}
            entries = user.get("client_and_roles")
            for entry in entries if isinstance(entries, list) else ():
                if not isinstance(entry, dict):
                    continue
                account = entry.get("client_id")
                if not isinstance(account, int):
                    continue
                given = entry.get("user_roles")
                roles[account] = _role_ids(given) if isinstance(given, list) else ()
                company = entry.get("client_company_name")
                if isinstance(company, str) and company:
                    names[account] = company
            name, lang = user.get("name"), user.get("lang")
            people[user_id] = Person(
                user_id,
                email,
                frozenset(roles),
                name if isinstance(name, str) else "",
                lang if isinstance(lang, str) else "",
                roles,
            )
            by_email.setdefault(email.lower(), []).append(user_id)
        return cls(people, by_email, names)

    @classmethod
    def joined(cls, parts: Sequence[Directory]) -> Directory:
        """The parts (from_users of each page, in page order) as one: equal to from_users
        over every page's users, so each page can be read into its part as it arrives."""
        if len(parts) == 1:
            return parts[0]
        people: dict[int, Person] = {}
        by_email: dict[str, list[int]] = {}
        names: dict[int, str] = {}
        for part in parts:
            people |= part.people
            for email, ids in part.by_email.items():
                by_email.setdefault(email, []).extend(ids)
            names |= part.names
        return cls(people, by_email, names)

    def ids_for(self, email: str) -> Sequence[int]:
        return self.by_email.get(email.lower(), ())

    def with_recorded(
        self, recorded: Mapping[int, Person], names: Mapping[int, str] | None = None
    ) -> Directory:
        """This listing with the users a run recorded (run.json) laid over it, for a resume
        of that run: the run may itself have deleted some of them, and its emails must still
        resolve, and its users keep the accounts (a `*` row expands to the same pairs), as
        they did when it began, with their recorded roles; the accounts' recorded names fill
        the gaps of today's. A recorded user the listing still shows also keeps the accounts
        they gained since: a `*` row names the person everywhere, and a resumed job (the
        folder inbox retries an open one) must revoke those too, or it never finishes."""
        if not recorded:
            return self
        recorded = {
            user: _joined(person, self.people.get(user)) for user, person in recorded.items()
        }
        emails: dict[str, list[int]] = {}
        for person in recorded.values():
            if person.email:
                emails.setdefault(person.email.lower(), []).append(person.id)
        by_email = {
            email: [i for i in ids if i not in recorded] for email, ids in self.by_email.items()
        }
        # An email the run resolved keeps its user (a new user since with the same email
        # is not the one the run was revoking).
        by_email |= emails
        return Directory(
            {**self.people, **recorded},
            {email: ids for email, ids in by_email.items() if ids},
            {**(names or {}), **self.names},
        )


def _joined(recorded: Person, today: Person | None) -> Person:
    """The recorded user with the accounts today's listing adds (roles: the recorded ones,
    what a restore gives back, then today's for the accounts gained since)."""
    if today is None or today.accounts <= recorded.accounts:
        return recorded
    return replace(
        recorded,
        accounts=recorded.accounts | today.accounts,
        roles={**today.roles, **recorded.roles},
    )


def _role_ids(given: list[Any]) -> tuple[int, ...]:
    """A `user_roles` list's role IDs: digits, as strings or integers (no bools)."""
    return tuple(
        [int(role) for role in given if isinstance(role, (str, int)) and str(role).isdigit()]
    )
