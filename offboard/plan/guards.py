"""Guards: rows that must never be sent, the batch-size cap, and who would be deleted.

Pure functions over Actions, applied after the plan and before the first DELETE.
"""

from __future__ import annotations

from ..core.directory import Directory
from ..core.errors import SettingsError
from ..core.models import Action, Outcome
from ..core.settings import Protection


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
    if not protection.emails:  # no email to match: most runs, and every row of them
        return ""
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
            f"the cap with --max-revocations {count} (or max_revocations: in the job file)"
        )


class Tally:
    """What the rows to be sent add up to, counted as they stream past (memory grows with
    users and accounts, not rows). Who the batch deletes is plan/deletions.py's to say."""

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
