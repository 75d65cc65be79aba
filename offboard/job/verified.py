"""After the last row of a run: the revoked rows read back (execute/verify.py), and each
verdict journaled as an amended record, which the lists and the pages then show.
"""

from __future__ import annotations

from ..core.models import ReadBack
from ..core.settings import Settings
from ..execute.verify import Check, cheaper, read_back
from ..http.api import Api
from ..journal.writer import Report
from .ended import Prepared


async def verify(
    api: Api,
    prepared: Prepared,
    checks: list[Check],
    verified_before: set[tuple[int, int | None]],
    settings: Settings,
    report: Report,
) -> ReadBack:
    """Read back `checks` (the rows this run revoked; `verified_before`: carried rows an
    earlier run read back) and journal what the read-back says of each."""
    known = len(prepared.directory.people) if prepared.directory else None
    # The listing when the batch names someone everywhere (the proof of what they
    # still reach), or when the whole batch, rows a resume carried included, would
    # read it: a resume then answers each person as the run it continues would have.
    whole = cheaper(len(checks) + len(verified_before), known)
    read = await read_back(
        api,
        checks,
        known,
        settings.concurrency,
        listing=prepared.everywhere or whole == "listing",
    )
    by_key = {c.key: c for c in checks}
    report.amend_verdicts(
        (by_key[key].row, by_key[key].account, by_key[key].user, verdict)
        for key, verdict in read.verdicts.items()
    )
    return read
