"""What `offboard restore` gives back, decided from the run's report and today's user list.

Pure: the report's journal and run.json say which rows were revoked and what each user held
(their role in that account, e-mail, name, language: recorded before the first DELETE, see
report.Report.record_batch); the user list says who is a member again already. The
restore itself (restore/command.py) only sends the invites these decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.directory import Directory, Person
from ..core.restore_record import RestoreOutcome

# Gcore's groups (the spec's `Group`): a role is given back by ID, and named for people.
ROLE_NAMES = {
    1: "Administrators",
    2: "Users",
    5: "Engineers",
    3009: "Purge and Prefetch only (API+Web)",
    3022: "Purge and Prefetch only (API)",
}


@dataclass(frozen=True, slots=True)
class Revoked:
    """A row the run revoked, with what its user held."""

    row: int
    account: int
    user_id: int
    email: str
    name: str
    lang: str
    role: int | None  # None: the run did not record the user's role in that account
    user_deleted: bool  # the revoke removed the user's last account: Gcore deleted them
    tokens: tuple[Mapping[str, Any], ...]  # API tokens the run deleted first: gone for good

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, f"role {self.role}") if self.role is not None else ""


@dataclass(frozen=True, slots=True)
class Step:
    """What the restore does for one revoked row: send an invite (`outcome` None) or not."""

    revoked: Revoked
    outcome: RestoreOutcome | None
    message: str
    new_user: bool = False  # the user is gone: the invite makes a new user, with a new ID


@dataclass(frozen=True, slots=True)
class Restored:
    """How one row of a restore ended: a line of its journal (restore/report.py)."""

    revoked: Revoked
    outcome: RestoreOutcome
    message: str
    http_status: int | None = None
    attempts: int = 0
    request_id: str = ""
    new_user_id: int | None = None  # the user's ID after the invite (new if they were deleted)


def revoked_rows(
    records: Iterable[Mapping[str, Any]], people: Mapping[int, Person]
) -> list[Revoked]:
    """The run's `revoked` rows, in row order, with each user's recorded role."""
    rows = []
    for record in records:
        account, user_id = record.get("account"), record.get("user_id")
        if (
            record.get("outcome") != "revoked"
            or not isinstance(account, int)
            or not isinstance(user_id, int)
        ):
            continue
        person = people.get(user_id)
        held = person.roles.get(account, ()) if person is not None else ()
        rows.append(
            Revoked(
                int(record["row"]),
                account,
                user_id,
                person.email if person else str(record.get("email") or ""),
                person.name if person else str(record.get("name") or ""),
                person.lang if person else "",
                held[0] if held else None,
                record.get("user_deleted") is True,
                tuple(record.get("tokens") or ()),
            )
        )
    return sorted(rows, key=lambda r: (r.row, r.account))


def select(
    rows: Sequence[Revoked], numbers: Sequence[int], users: Sequence[str], accounts: Sequence[int]
) -> list[Revoked]:
    """The rows `--row`, `--user` (an ID or an e-mail) and `--account` pick (all of them
    when none is given); a choice that picks nothing is an error the caller reports."""
    wanted_users = {u.strip().lower() for u in users}
    return [
        r
        for r in rows
        if (not numbers or r.row in numbers)
        and (not accounts or r.account in accounts)
        and (not wanted_users or str(r.user_id) in wanted_users or r.email.lower() in wanted_users)
    ]


def step(revoked: Revoked, directory: Directory) -> Step:
    """What to do for one row, given today's user list."""
    if not revoked.email:
        return Step(
            revoked,
            RestoreOutcome.NOT_RESTORABLE,
            "the run did not record this user's e-mail: nothing to invite",
        )
    if revoked.role is None:
        return Step(
            revoked,
            RestoreOutcome.NOT_RESTORABLE,
            f"the run did not record this user's role in account {revoked.account}: "
            "offboard does not guess a role",
        )
    today = [directory.people[i] for i in directory.ids_for(revoked.email)]
    member = next((p for p in today if revoked.account in p.accounts), None)
    if member is not None:
        return Step(
            revoked,
            RestoreOutcome.ALREADY_MEMBER,
            f"already a member of account {revoked.account} (user {member.id}): left alone",
        )
    gone = not today
    message = f"invite back to account {revoked.account} as {revoked.role_name}"
    if gone:
        message += (
            "; the run deleted this user (their last account): the invite creates "
            "a new user, with a new ID, who must accept it by e-mail"
        )
    return Step(revoked, None, message, new_user=gone)
