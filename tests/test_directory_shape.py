"""Directory.from_users reads each user's `client_and_roles` once for roles and names: the
same Directory as reading them apart (the reference below), malformed entries included."""

from __future__ import annotations

import random
from typing import Any

from offboard.core.directory import Directory, Person


def _reference(users: list[Any]) -> Directory:
    """from_users as it was: roles and names each from their own pass."""

    def roles_of(entries: Any) -> dict[int, tuple[int, ...]]:
        roles: dict[int, tuple[int, ...]] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("client_id"), int):
                continue
            given = entry.get("user_roles")
            roles[entry["client_id"]] = tuple(
                int(role)
                for role in (given if isinstance(given, list) else [])
                if isinstance(role, (str, int)) and str(role).isdigit()
            )
        return roles

    def names_of(entries: Any) -> dict[int, str]:
        return {
            entry["client_id"]: entry["client_company_name"]
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict)
            and isinstance(entry.get("client_id"), int)
            and isinstance(entry.get("client_company_name"), str)
            and entry["client_company_name"]
        }

    people: dict[int, Person] = {}
    by_email: dict[str, list[int]] = {}
    names: dict[int, str] = {}
    for user in users:
        if not isinstance(user, dict) or user.get("deleted"):
            continue
        user_id, email = user.get("id"), user.get("email")
        if not isinstance(user_id, int) or not isinstance(email, str):
            continue
        roles = roles_of(user.get("client_and_roles"))
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
        names |= names_of(user.get("client_and_roles"))
    return Directory(people, by_email, names)


def _entry(pick: random.Random) -> Any:
    return pick.choice(
        [
            {
                "client_id": pick.choice([10, 20, 30]),
                "client_company_name": pick.choice(["A", "", 5, "B"]),
                "user_roles": pick.choice([["2"], ["1", 3, True, "x", -1], [], "2", None]),
            },
            {"client_id": True, "client_company_name": "T", "user_roles": ["1"]},
            {"client_id": "10", "client_company_name": "S"},
            {"client_id": 40},
            "not an entry",
            None,
        ]
    )


def test_roles_and_names_in_one_pass_are_as_read_apart() -> None:
    """Over 2,000 users with malformed, duplicate and missing entries, ids, emails and names,
    from_users equals the two-pass reference: people (roles, accounts), emails and names, in
    the same order."""
    pick = random.Random(22)
    users: list[Any] = []
    for n in range(2000):
        users.append(
            pick.choice([None, "x", {"id": n, "email": 5}])
            if n % 50 == 0
            else {
                "id": pick.choice([n, n, n, True, "7"]) if n % 7 == 0 else n,
                "email": f"U{n % 300}@x.io",
                "name": pick.choice(["N", None, 3]),
                "lang": pick.choice(["en", None]),
                "deleted": n % 97 == 0,
                "client_and_roles": pick.choice(
                    [[_entry(pick) for _ in range(pick.randint(0, 4))], None, "x", {}]
                ),
            }
        )
    got, want = Directory.from_users(users), _reference(users)
    assert got == want
    assert list(got.names.items()) == list(want.names.items())
    assert list(got.people) == list(want.people)
    assert all(got.people[u].roles == want.people[u].roles for u in want.people)
