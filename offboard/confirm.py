"""The question a person answers before a run on a terminal: counts, and names.

Counts alone hide mistakes ("3 users deleted" - which three?), so the prompt
names the users the batch deletes entirely (from deletions.py, the same answer
every other surface shows) and, with --delete-tokens, every token that would
be deleted, with its name and issuer: read here with the same token listing
the revoke uses, under the same rate limiter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .api import Api, DirectoryError, RequestNotSent
from .deletions import Deletions
from .directory import Person
from .models import Action

NAMED = 20  # names shown before "... and N more"


async def question(api: Api, *, sending: int, users: int, accounts: int,
                   deletions: Deletions, people: Mapping[int, Person], list_unreadable: bool,
                   actions: Iterable[Action], delete_tokens: bool) -> str:
    lines = [f"Revoke {sending} accesses ({users} users in {accounts} accounts)?"]
    if list_unreadable:
        lines.append("Users who lose their last account and are deleted: an unknown number "
                     "(the user list was unreadable).")
    else:
        unknown = (f" (and {len(deletions.unknown)} not in the user list: unknown)"
                   if deletions.unknown else "")
        lines.append(f"Users who lose their last account and are deleted: "
                     f"{len(deletions)}{unknown}")
        lines += _named([_person(user, people) for user in sorted(deletions.accounts)])
    if delete_tokens:
        lines += await _tokens(api, actions)
    lines.append("Proceed?")
    return "\n".join(lines)


async def _tokens(api: Api, actions: Iterable[Action]) -> list[str]:
    """Every live token --delete-tokens would delete, if the revoke is blocked by it."""
    found: list[str] = []
    for action in actions:
        if not action.send or action.account is None or action.user_id is None:
            continue
        try:
            tokens = await api.live_token_details(action.account, action.user_id)
        except (DirectoryError, RequestNotSent) as exc:
            found.append(f"  account {action.account} user {action.user_id}: tokens unknown "
                         f"({exc or api.abort_reason})")
            continue
        found += [f"  token {t.id} {t.name!r} issued by {t.issuer or 'user ' + str(action.user_id)}"
                  f" in account {action.account}" for t in tokens]
    head = f"API tokens --delete-tokens deletes if they block a revoke: {len(found)}"
    return [head, *_named(found, indent="")]


def _person(user: int, people: Mapping[int, Person]) -> str:
    person = people.get(user)
    if person is None:
        return f"user {user}"
    name = f"{person.name} " if person.name else ""
    return f"{name}<{person.email}> (user {user})"


def _named(items: list[str], indent: str = "  ") -> list[str]:
    shown = [f"{indent}{item}" for item in items[:NAMED]]
    if len(items) > NAMED:
        shown.append(f"{indent}... and {len(items) - NAMED} more")
    return shown
