"""What a person does about each outcome that needs one: the paragraph report.html and
summary.txt print above each group of rows (grant a role, delete tokens, resume, fix a row).

Apart from pages.py, which lays the pages out: this is the advice itself, the words people act
on, so it can be read and changed in one place without touching the layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .pagedata import PageData
from .people_view import record_account


def todo(outcome: str, data: PageData, records: Sequence[Mapping[str, Any]]) -> str:
    """What a person does about the rows of `outcome`, in one paragraph of the pages."""
    key_user = data.summary.get("key_user")
    who = f"The API key's user (ID {key_user})" if key_user is not None else "The API key's user"
    if outcome == "token_blocked":
        how = (
            "Delete them and revoke again with the command below"
            if data.commands.get("delete_tokens")
            else "Delete them in the Gcore portal, or run again with --delete-tokens"
        )
        return (
            f"Gcore refuses to remove a user who still has live API tokens in the account. "
            f"{how}: only tokens the leaver issued are deleted."
        )
    if outcome == "forbidden":
        wanted = sorted({record_account(r) for r in records})
        where = ", ".join(wanted[:20]) + (" and others" if len(wanted) > 20 else "")
        return (
            f"{who} needs an administrator role in account {where}. Grant it (or have an "
            "administrator of that account revoke the user), then run again."
        )
    if outcome == "failed":
        resume = " Once it answers again, continue the run:" if data.commands.get("resume") else ""
        return (
            "The API did not confirm these revokes. Give the request ID to Gcore support "
            f"if it keeps failing.{resume}"
        )
    if outcome == "not_attempted":
        return "The run stopped before these rows were sent. Continue it:"
    if outcome == "invalid":
        return "Fix the row in the input (the message names the field), then run it again."
    if outcome == "skipped":
        return (
            "A guard held these back: a protected user, or the API key's own user. If they "
            "really leave, revoke them by hand or with another key."
        )
    return "See each row's message."
