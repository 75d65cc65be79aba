"""The cap, then the question a person answers before a run on a terminal: counts, and names.

Counts alone hide mistakes ("3 users deleted" - which three?), so the prompt
names the users the batch deletes entirely (from plan/deletions.py, the same answer
every other surface shows) and, with --delete-tokens, every token that would
be deleted, with its name and issuer: read here with the same token listing
the revoke uses, under the same rate limiter. Leavers who signed in after their
leave_date, or recently without one, are named first: the same facts
(execute/activity.py) that each row's result then carries into the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from ..core.directory import Person
from ..core.job import Job
from ..core.models import Action, Mode
from ..core.settings import Guarding
from ..core.words import account_words
from ..execute.activity import Activity
from ..http.api import Api, DirectoryError, RequestNotSent
from ..plan.deletions import Deletions
from ..plan.guards import check_cap
from ..report.logs import Log
from ..source.leaving import ACTIVE, AFTER_LEAVING
from .ended import Prepared
from .prompt import Prompt

NAMED = 20  # names shown before "... and N more"


async def decide(
    api: Api,
    prepared: Prepared,
    *,
    job: Job,
    guarding: Guarding,
    interactive: bool,
    log: Log,
    prompt: Prompt,
    actions: Callable[[], Iterator[Action]],
    everywhere: str,
) -> None:
    """The cap, then the person's confirmation on a terminal: both before any DELETE.
    `actions` gives the rows as they will be sent, afresh on each call."""
    cap = guarding.max_revocations
    if job.mode is Mode.PLAN:
        if prepared.sending > cap:
            log.warn(
                f"note: `run` would refuse this batch: {prepared.sending} "
                f"revocations, cap {cap} (--max-revocations)"
            )
        return
    check_cap(prepared.sending, cap, job.source)
    if not prepared.sending or job.yes or not interactive or log.json:
        return  # cron, or a machine reading JSON: no one to ask; the cap is the guard
    text = await question(
        api,
        sending=prepared.sending,
        users=prepared.users,
        accounts=prepared.accounts,
        deletions=prepared.deletions,
        people=prepared.people,
        list_unreadable=bool(prepared.directory_error),
        actions=actions(),
        delete_tokens=guarding.delete_tokens,
        activity=prepared.activity,
        all_rows=actions(),
        everywhere=everywhere,
    )
    await prompt.ask(text, api)


async def question(
    api: Api,
    *,
    sending: int,
    users: int,
    accounts: int,
    deletions: Deletions,
    people: Mapping[int, Person],
    list_unreadable: bool,
    actions: Iterable[Action],
    delete_tokens: bool,
    activity: Activity | None = None,
    all_rows: Iterable[Action] = (),
    everywhere: str = "",
) -> str:
    # Why a row without an account means every account comes first: it changes what every
    # count below means.
    lines = [everywhere] if everywhere else []
    lines.append(f"Revoke {sending} accesses ({users} users in {accounts} accounts)?")
    if activity is not None:
        lines += _logins(activity, all_rows, people)
    if list_unreadable:
        lines.append(
            "Users who lose their last account and are deleted: an unknown number "
            "(the user list was unreadable)."
        )
    else:
        unknown = (
            f" (and {len(deletions.unknown)} not in the user list: unknown)"
            if deletions.unknown
            else ""
        )
        lines.append(
            f"Users who lose their last account and are deleted: {len(deletions)}{unknown}"
        )
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
        account = account_words(action.account, action.account_name)
        try:
            tokens = await api.live_token_details(action.account, action.user_id)
        except (DirectoryError, RequestNotSent) as exc:
            found.append(
                f"  account {account} user {action.user_id}: tokens unknown "
                f"({exc or api.abort_reason})"
            )
            continue
        found += [
            f"  token {t.id} {t.name!r} issued by {t.issuer or 'user ' + str(action.user_id)}"
            f" in account {account}"
            for t in tokens
        ]
    head = f"API tokens --delete-tokens deletes if they block a revoke: {len(found)}"
    return [head, *_named(found, indent="")]


def _logins(activity: Activity, rows: Iterable[Action], people: Mapping[int, Person]) -> list[str]:
    """Leavers still signing in, once per user and flag; or why that is unknown."""
    if activity.unknown:
        return [f"Login activity unknown: {activity.unknown}."]
    found: dict[str, dict[int, str]] = {AFTER_LEAVING: {}, ACTIVE: {}}
    for action in rows:
        if action.user_id is None:
            continue
        fact = activity.fact(action.row, action.user_id)
        if fact.flag in found and action.user_id not in found[fact.flag]:
            left = f", leave_date {fact.leave_date}" if fact.leave_date else ""
            found[fact.flag][action.user_id] = (
                f"{_person(action.user_id, people)}: {fact.login_at} from "
                f"{fact.ip_address or 'an unknown address'}{left}"
            )
    lines = []
    if found[AFTER_LEAVING]:
        lines.append(
            f"POSSIBLE SECURITY INCIDENT: signed in after their leave_date: "
            f"{len(found[AFTER_LEAVING])}"
        )
        lines += _named(list(found[AFTER_LEAVING].values()))
    if found[ACTIVE]:
        lines.append(
            f"Signed in within the last {activity.active_days} days, with no "
            f"leave_date (is it the right person?): {len(found[ACTIVE])}"
        )
        lines += _named(list(found[ACTIVE].values()))
    return lines


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
