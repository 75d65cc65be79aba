"""What the key account's login log says about one row's user: the `LoginFact` a Result
carries into the journal and the report (a login after leave_date, a recent one, or unknown).

Apart from core/models.py, whose values every row has: this one exists only where the login
check ran, and source/leaving.py (the judgement) and execute/activity.py (the reading) are its
only makers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoginFact:
    """What the key account's login log says about one row's user.

    Made by source/leaving.py and execute/activity.py.

    `flag` is "after_leaving" (a successful login after the row's leave_date: a possible
    security incident), "active" (no leave_date, a login within --active-days: a warning),
    "quiet" (neither) or "unknown" (the log could not be read, or not far enough: `note`).
    """

    flag: str
    leave_date: str = ""  # as the row gave it
    login_at: str = ""  # the last successful login, UTC RFC 3339 ("" if none was seen)
    ip_address: str = ""
    user_agent: str = ""
    since: str = ""  # the log was read back to this moment ("" = all of it)
    note: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            name: getattr(self, name)
            for name in self.__slots__
            if getattr(self, name) or name == "flag"
        }
