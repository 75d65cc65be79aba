"""What the pages say of the whole run in sentences: its title, the verdict (the exit code in
words) and how the read-back was done. pages.py puts them on the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.models import Mode
from .page_filters import plain

EXIT_WORDS = {
    0: "all rows settled",
    1: "rows or people need a person",
    2: "refused to start",
    3: "aborted",
}
# How the read-back was done (execute/verify.py's `verify_method`), in words for the pages.
READ_BACK = {
    "listing": "by reading the user list once",
    "per_row": "by reading each revoked row's membership",
}


def read_back(summary: Mapping[str, Any]) -> str:
    """The read-back in words: how, and at what cost."""
    if summary.get("verified") != "on":
        return "off: unverified"
    method = summary.get("verify_method")
    how = READ_BACK.get(str(method), plain(method)) if method else ""
    cost = summary.get("verify_requests")
    if how and cost is not None:
        how += f", {cost} request{'' if cost == 1 else 's'}"
    return "every revoke checked against the API" + (f" ({how})" if how else "")


def title(summary: Mapping[str, Any], mode: Mode) -> str:
    kind = "Offboarding plan" if mode is Mode.PLAN else "Offboarding run"
    return f"{kind} of {summary.get('source', '?')}"


def verdict(
    summary: Mapping[str, Any], mode: Mode, needing: int, resume: bool, after: int = 0
) -> str:
    """The exit code in words."""
    code, why = summary.get("exit_code"), summary.get("aborted") or "no reason recorded"
    incident = (
        (
            f"{after} row{'' if after == 1 else 's'}: a leaver signed in after their "
            "leave_date, a possible security incident (below). "
        )
        if after
        else ""
    )
    if code == 0:
        return f"{incident}Every row settled: nothing {'else ' if after else ''}is left to do."
    if code == 1 and not needing:
        return f"{incident}What to do is below."
    if code == 1:
        if incident:
            return f"{incident}{needing} of {summary.get('rows')} rows need a person too."
        still = (
            ": their leavers may still have access"
            if mode is Mode.RUN
            else " before this plan is run"
        )
        return f"{needing} of {summary.get('rows')} rows need a person{still}. What to do is below."
    if code == 3:
        then = "; continue the run with the command below" if resume else ""
        return f"Aborted: {why}. Rows not sent are not_attempted{then}."
    return f"Refused to start: {why}."
