"""The fields of a restore's journal record, once: the columns of its results.csv (and of
each outcome's list, restore/report.py) and the fields of its JSON `row` event (report/logs.py).

Kept apart from core/models.py (the outcomes) so that the report stage can read it without the
restore stage, which sits above it.
"""

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
