"""One settled row's journal record (journal/writer.py): the report's columns in their
order, the marks only some rows carry, the input's carried columns, tokens and login.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from ..core.directory import Person
from ..core.models import Result
from ..core.words import plain
from .layout import now


def record_of(
    result: Result, people: Mapping[int, Person], carried: Mapping[str, str]
) -> dict[str, Any]:
    """The record of `result` (`people`: the names and emails of the report's users;
    `carried`: each carried input column and the name the report gives it)."""
    row = result.row
    person = people.get(result.user_id) if result.user_id is not None else None
    record: dict[str, Any] = {
        "row": row.number,
        "account": result.account if result.account is not None else plain(row.account),
        "user": plain(row.user),
        "user_id": result.user_id,
        "outcome": str(result.outcome),
        "http_status": result.http_status,
        "attempts": result.attempts,
        "request_id": result.request_id,
        "message": result.message,
        "name": person.name if person else "",
        "email": person.email if person else "",
        "user_deleted": result.user_deleted,
        "verified": None,
        "settled_at": result.settled_at or now(),
        "account_name": result.account_name,
    }
    if result.everywhere:  # only then, as maybe_applied below
        record["everywhere"] = True
    if result.maybe_applied:  # only then: other records are as before the mark existed
        record["maybe_applied"] = True
    for name, shown in carried.items():
        record[shown] = row.extra.get(name, "")
    if result.tokens:
        record["tokens"] = [asdict(token) for token in result.tokens]
    if result.login is not None:
        record["login"] = result.login.to_json()
    return record
