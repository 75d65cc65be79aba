"""Guards: rows that must never be sent, the batch-size cap, and who would be deleted.

Pure functions over Actions, applied after the plan and before the first DELETE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .directory import Directory
from .errors import SettingsError
from .models import Action, Outcome


@dataclass(frozen=True, slots=True)
class Protection:
    """Users never to revoke: the key's own user, and the protected IDs and emails."""

    own_user: int | None = None
    ids: frozenset[int] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, values: Iterable[object], where: str) -> Protection:
        """From `--protect` values or a job's `protect:` list (IDs or emails)."""
        ids: set[int] = set()
        emails: set[str] = set()
        for value in values:
            text = str(value).strip() if isinstance(value, (int, str)) else ""
            if isinstance(value, bool) or not text:
                raise SettingsError(f"{where}: each entry must be a user ID or an email")
            if text.isdigit() and int(text) > 0:
                ids.add(int(text))
            elif "@" in text and " " not in text:
                emails.add(text.lower())
            else:
                raise SettingsError(f"{where}: {text!r} is neither a user ID nor an email")
        return cls(None, frozenset(ids), frozenset(emails))

    def merged(self, other: Protection) -> Protection:
        return Protection(self.own_user if self.own_user is not None else other.own_user,
                          self.ids | other.ids, self.emails | other.emails)

    def merged_own(self, own_user: int | None) -> Protection:
        """The same protection, plus the key's own user."""
        return Protection(own_user, self.ids, self.emails)


def guard(action: Action, protection: Protection, directory: Directory | None) -> Action:
    """The action, or `skipped` if it would revoke the key's own user or a protected one."""
    reason = _why_protected(action, protection, directory) if action.send else ""
    if reason:
        return Action(action.row, action.account, action.user_id, Outcome.SKIPPED, reason)
    return action



def _why_protected(action: Action, protection: Protection, directory: Directory | None) -> str:
    user_id = action.user_id
    if user_id is not None and user_id == protection.own_user:
        return "this is the API key's own user: offboard never revokes it"
    if user_id in protection.ids:
        return "protected user (--protect / protect:): not sent"
    emails = {str(action.row.user).strip().lower()}
    if directory is not None and user_id is not None and user_id in directory.people:
        emails.add(directory.people[user_id].email.lower())
    if emails & protection.emails:
        return "protected user (--protect / protect:): not sent"
    return ""



def check_cap(count: int, cap: int, source: str = "") -> None:
    """Refuse the whole batch (exit 2, nothing sent) above the cap; the line names SOURCE."""
    if count > cap:
        raise SettingsError(
            f"{source + ': ' if source else ''}the batch would revoke {count} accesses, more "
            f"than the cap of {cap}: nothing was sent. Check the file; if it is right, raise "
            f"the cap with --max-revocations {count} (or max_revocations: in the job file)")


class Tally:
    """What the rows to be sent add up to, counted as they stream past (memory grows with
    users and accounts, not rows). Who the batch deletes is deletions.py's to say."""

    def __init__(self) -> None:
        self.sending = 0
        self.accounts: set[int] = set()
        self.users: set[int] = set()

    def add(self, action: Action) -> None:
        if not action.send:
            return
        assert action.account is not None and action.user_id is not None
        self.sending += 1
        self.accounts.add(action.account)
        self.users.add(action.user_id)
