"""The restore's outcomes and the fields of its journal record, once: the columns of its
results.csv (and of each outcome's list, restore/report.py) and the fields of its JSON `row`
event (report/logs.py).

Kept apart from core/models.py (a run's outcomes) so that the report stage can read them
without the restore stage, which sits above it.
"""

import enum

RESTORE_COLUMNS = (
    "row",
    "account",
    "user_id",
    "email",
    "name",
    "role_id",
    "role",
    "outcome",
    "http_status",
    "attempts",
    "request_id",
    "message",
    "new_user_id",
    "settled_at",
)

# The log's event is about the answer: who the row was is enough (name and role are in the
# report's lists), and the event carries its own time.
RESTORE_EVENT_FIELDS = tuple(
    c for c in RESTORE_COLUMNS if c not in ("name", "role_id", "role", "settled_at")
)


class RestoreOutcome(enum.StrEnum):
    """How one row of `offboard restore` ended (its own report's `outcome`): not the run's
    outcomes, though two strings are shared, so it is a type of its own."""

    RESTORED = "restored"  # invited back with the role it had
    ALREADY_MEMBER = "already_member"  # a member of the account again: left alone
    FAILED = "failed"  # the API refused or failed; `--resume` tries again
    NOT_RESTORABLE = "not_restorable"  # nothing to invite with (see the message)
    NOT_ATTEMPTED = "not_attempted"  # the restore stopped before this row
    WOULD_RESTORE = "would_restore"  # `--plan`: the invite that would be sent


# Settled for good: a `--resume` of the restore sends these rows no more.
RESTORE_NOT_SENT_AGAIN = frozenset(
    {RestoreOutcome.RESTORED, RestoreOutcome.ALREADY_MEMBER, RestoreOutcome.NOT_RESTORABLE}
)
# Nothing left to do for a person (the restore's exit code 0).
RESTORE_FINE = frozenset(
    {RestoreOutcome.RESTORED, RestoreOutcome.ALREADY_MEMBER, RestoreOutcome.WOULD_RESTORE}
)
# The access is back: a later restore leaves these rows alone (REPORT_DIR's restored mark).
RESTORE_GIVEN_BACK = frozenset({RestoreOutcome.RESTORED, RestoreOutcome.ALREADY_MEMBER})
# The restore's lists written even when empty: those of the rows given back.
RESTORE_ALWAYS_WRITTEN = tuple(o for o in RestoreOutcome if o in RESTORE_GIVEN_BACK)
