"""What the pass before the first DELETE learns from the batch, one guarded Action at a time.

The cap, the prompt and who the batch deletes must see the whole batch before any DELETE, so
the session goes through the rows once and adds each Action here: the counts (plan/guards.py's
Tally), the pairs a deletion is decided from (plan/deletions.py's Decider), whose last logins to
read and from when, the people the batch names, and what a resume carries over from the run it
continues. Memory grows with users and accounts, not rows, but for the Actions kept for the
sending pass (up to KEPT_ACTIONS, so that it need not plan every row again).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from ..core.directory import Person
from ..core.models import Action, Result
from ..journal.reader import Previous, row_key
from ..plan.deletions import Decider
from ..plan.guards import Tally
from ..source.leaving import window_start

KEPT_ACTIONS = 20_000  # Actions kept from the pass before the first DELETE (a few MB)


class Survey:
    def __init__(
        self,
        known: Mapping[int, Person],
        previous: Previous | None,
        clock: datetime,
        active_days: int,
        leaves: Mapping[int, datetime] | None = None,
    ) -> None:
        """`leaves`: each row's leave moment by row number, when the rows were read ahead
        (job/ahead.py); else each row's leave_date is read here."""
        self._known, self._previous = known, previous
        self._clock, self._active_days = clock, active_days
        self._leaves, self._window = leaves, clock - timedelta(days=active_days)
        self.tally, self.decider = Tally(), Decider()
        self.people: dict[int, Person] = {}
        self.users: set[int] = set()  # whose logins to look up
        self.oldest = clock  # the oldest login that can flag a row
        self.everywhere = False  # some row names a known person everywhere (`*`)
        self.carried: list[Result] = []  # what a resume keeps from the run it continues
        self.kept: list[Action] | None = []  # this pass's Actions, None past KEPT_ACTIONS

    def keep(self, action: Action) -> None:
        """Keeps the Action as planned and guarded, before any abort marks it unsent."""
        if self.kept is not None and len(self.kept) < KEPT_ACTIONS:
            self.kept.append(action)
        else:
            self.kept = None  # too many to keep: each pass plans the rows again

    def add(self, action: Action) -> None:
        """Counts the Action as it will be sent."""
        self.tally.add(action)
        self.decider.add(action)
        user = action.user_id
        self.everywhere = self.everywhere or (action.everywhere and user is not None)
        if user is not None:
            self.users.add(user)
            if self._leaves is None:
                start = window_start(action.row, self._clock, self._active_days)
            else:
                start = self._leaves.get(action.row.number, self._window)
            if start < self.oldest:
                self.oldest = start
            if user in self._known:
                self.people[user] = self._known[user]
        if self._previous is not None:
            kept = self._previous.kept(row_key(action.row, action.account), action.row)
            if kept is not None:
                self.carried.append(kept)
