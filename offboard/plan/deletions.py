"""Who the batch deletes: the one place that decides it, and the run-time record of it.

Gcore deletes a user when their last account is revoked. Whether a batch does
that is decided once, from the whole batch and the user list, by `Decider`;
every surface (the prompt, the plan's rows and summary, the run's report and
summary, the metrics) reads its answer or the per-row `user_deleted` mark that
`Tracker` puts in the journal:

- a user is *doomed* when every account the user list gives them is revoked by
  a row of this batch; the mark goes on one row: the last to settle (in a plan,
  the last in input order);
- a user absent from the list is *unknown*: never "will not be deleted".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core.directory import Directory
from ..core.models import GONE, Action, Outcome, Result


@dataclass(frozen=True, slots=True)
class Deletions:
    """The answer: each doomed user with the accounts the list gives them (all revoked by
    the batch) and the row (input order) that is the last of those; unknown users."""

    accounts: Mapping[int, frozenset[int]] = field(default_factory=dict)
    last_row: Mapping[int, int] = field(default_factory=dict)
    unknown: frozenset[int] = frozenset()
    # the account of that last row's pair: a `*` row is one row of several pairs (absent in
    # a record made before `*` existed: the row alone then says it)
    last_account: Mapping[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.accounts)

    def planned_mark(
        self, user_id: int | None, row_number: int, account: int | None = None
    ) -> bool | None:
        """For `plan`: does this pair (the user's last in the batch) delete the user?"""
        if user_id is None:
            return False
        if user_id in self.unknown:
            return None
        last_account = self.last_account.get(user_id)
        return self.last_row.get(user_id) == row_number and last_account in (None, account)

    def regrown(self, fresh: Deletions, directory: Directory | None) -> Deletions:
        """This (a run's recorded answer, reused by its resume), except for the doomed users
        who reach more accounts today than it recorded (a `*` row revokes those too): for
        them `fresh`, decided from today's list, says whether the batch still deletes them."""
        people = directory.people if directory is not None else {}
        grown = {
            user
            for user, accounts in self.accounts.items()
            if user in people and not people[user].accounts <= accounts
        }
        if not grown:
            return self
        accounts = {u: a for u, a in self.accounts.items() if u not in grown}
        last = {u: n for u, n in self.last_row.items() if u not in grown}
        accounts |= {u: fresh.accounts[u] for u in grown if u in fresh.accounts}
        last |= {u: fresh.last_row[u] for u in grown if u in fresh.last_row}
        last_account = {u: a for u, a in self.last_account.items() if u not in grown}
        last_account |= {u: fresh.last_account[u] for u in grown if u in fresh.last_account}
        return Deletions(accounts, last, self.unknown, last_account)

    def to_json(self) -> dict[str, object]:
        return {
            # most users have one account: a list of it, without a sort each
            "accounts": {
                str(u): sorted(a) if len(a) > 1 else list(a) for u, a in self.accounts.items()
            },
            "last_row": {str(u): n for u, n in self.last_row.items()},
            "unknown": sorted(self.unknown),
            "last_account": {str(u): a for u, a in self.last_account.items()},
        }

    @classmethod
    def from_json(cls, data: object) -> Deletions | None:
        """From run.json or plan.json; None when absent or damaged (then decided again)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                {int(u): frozenset(int(a) for a in n) for u, n in data["accounts"].items()},
                {int(u): int(n) for u, n in data["last_row"].items()},
                frozenset(int(u) for u in data["unknown"]),
                {int(u): int(a) for u, a in data.get("last_account", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class Decider:
    """Collects the rows to send, one at a time (memory grows with the pairs sent, not with
    the rows read)."""

    def __init__(self) -> None:
        # user -> account -> (row number, position): the position orders the pairs of a
        # `*` row, which share its number
        self._rows: dict[int, dict[int, tuple[int, int]]] = {}
        self._added = 0

    def add(self, action: Action) -> None:
        if not action.send or action.user_id is None or action.account is None:
            return
        self._added += 1
        pairs = self._rows.setdefault(action.user_id, {})
        pairs[action.account] = (action.row.number, self._added)

    def decide(self, directory: Directory | None) -> Deletions:
        """Rows that are sent are distinct (account, user) pairs, so a user is doomed when
        the accounts the list gives them are all among their rows' accounts."""
        people = directory.people if directory is not None else {}
        accounts: dict[int, frozenset[int]] = {}
        last: dict[int, int] = {}
        last_account: dict[int, int] = {}
        for user, rows in self._rows.items():
            person = people.get(user)
            if person is not None and person.accounts and person.accounts <= rows.keys():
                accounts[user] = person.accounts
                if len(rows) == 1:  # most users: one pair, no max to take
                    final, (last[user], _) = next(iter(rows.items()))
                else:
                    final = max(person.accounts, key=lambda account: rows[account][1])
                    last[user] = rows[final][0]
                last_account[user] = final
        unknown = frozenset(user for user in self._rows if user not in people)
        return Deletions(accounts, last, unknown, last_account)


class Tracker:
    """Marks, as rows settle, the revoke that removed a doomed user's last account.

    Rows an earlier run into the same report settled are counted first
    (`carried`), so a resume marks the same row an uninterrupted run would.
    """

    def __init__(self, deletions: Deletions) -> None:
        self._deletions = deletions
        self._gone: dict[int, set[int]] = {}  # user -> their accounts no longer having them
        self._applied: set[int] = set()  # users with a revoke of ours that went through
        self._blocked: set[int] = set()

    def carried(self, result: Result) -> None:
        self._count(result)

    def mark(self, result: Result) -> Result:
        """The freshly settled result with its user_deleted mark (a row mark, core/sinks.py)."""
        return result.marked(
            user_deleted=self.settle(result), login=result.login, message=result.message
        )

    def settle(self, result: Result) -> bool | None:
        """user_deleted for a freshly settled row: True on the row that deleted the user,
        None when the user list did not know the user, else False."""
        user = result.user_id
        if user is None:  # no user (an email that matches none, an invalid row): no claim
            return None
        if user in self._deletions.unknown:
            return None if result.outcome in GONE else False
        if not self._count(result):
            return False
        return (
            result.outcome in GONE
            and user in self._applied
            and user not in self._blocked
            and self._gone.get(user, set()) >= self._deletions.accounts[user]
        )

    def _count(self, result: Result) -> bool:
        """Count a row of a doomed user in one of their accounts; False for any other row.
        A duplicate was not sent: it settles at once, often before the revoke it repeats,
        and must not count as an account the user keeps."""
        user, account = result.user_id, result.account
        if (
            user is None
            or account is None
            or result.outcome is Outcome.DUPLICATE
            or account not in self._deletions.accounts.get(user, ())
        ):
            return False
        if result.outcome in GONE:
            self._gone.setdefault(user, set()).add(account)
            # A 404 after a revoke that may have been applied (in flight when a run died)
            # counts as ours: the user list said the account had the user.
            if result.outcome is Outcome.REVOKED or result.maybe_applied:
                self._applied.add(user)
        else:
            self._blocked.add(user)
        return True
