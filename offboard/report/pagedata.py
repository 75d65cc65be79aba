"""What the people's pages of a report (report.html, summary.txt) show: one value, built
from the journal's records at the end of a run (job/outputs.py), rendered by report/pages.py.

Every record is a journal record as written to results.jsonl: the keys `row`,
`account`, `user`, `user_id`, `outcome`, `http_status`, `attempts`, `request_id`,
`message`, `name`, `email`, `user_deleted`, `verified`, `settled_at`, `account_name`
(the account's `client_company_name`, "" when unknown), the carried input columns (say
`ticket`), `everywhere: true` on a row named with `*` (absent otherwise), and for
token-blocked rows `tokens`: a list of {"id": int, "name": str, "issuer": str}. Values
come from input files and from the API: they are data, never markup.

An account, wherever a value below lists one, is {"id": int, "name": str} (name "" when
unknown); the pages write it with core.models.account_words: "1000 Acme HQ".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

# Rows shown in each table of the pages; the rest are in the table's CSV ("and N more"). A
# batch of a few hundred rows then prints on a handful of A4 pages (issue 19).
SHOWN_PER_OUTCOME = 10


@dataclass(frozen=True, slots=True)
class PageData:
    # summary.json as written: command ("run" or "plan"), run_id, rows, counts (outcome ->
    # n, every outcome), exit_code, started_at, finished_at, source, source_sha256, plan
    # ({"path", "sha256"} or None), aborted (str or None), resumed, key_user, run_by,
    # options (mapping), users_deleted (run) or users_would_be_deleted (plan), verified
    # ("on" | "off", plus verify_method, verify_requests).
    summary: Mapping[str, Any]
    # account (as text; an invalid row's account may be any text) -> outcome -> rows
    accounts: Mapping[str, Mapping[str, int]]
    # the records with user_deleted true: the users the batch deleted (or would delete)
    deleted: Sequence[Mapping[str, Any]]
    # outcome -> records that need a person (at most SHOWN_PER_OUTCOME each), input order
    needing: Mapping[str, Sequence[Mapping[str, Any]]]
    # outcome -> how many more rows of it there are than `needing` shows
    more: Mapping[str, int] = field(default_factory=dict)
    # names of the CSV files in the report directory, for links (relative: "failed.csv")
    files: Sequence[str] = ()
    # pasteable commands: "resume" (continue this run), "delete_tokens" (delete the
    # blocking tokens, then revoke again), "run_plan" (plan only: run exactly this plan)
    commands: Mapping[str, str] = field(default_factory=dict)
    # the carried input columns shown with each row (say ["ticket"])
    carried: Sequence[str] = ()
    # login flag ("after_leaving", "active", "unknown") and "all" (every row whose user
    # signed in) -> records (at most SHOWN_PER_OUTCOME each), each with `login`: {"flag",
    # "leave_date", "login_at", "ip_address", "user_agent", "since", "note"}; the counts are
    # summary["logins"]
    logins: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    # rows whose user was seen signing in (the sign-in table), and rows read with none seen
    signed_in: int = 0
    not_seen: int = 0
    # The fields below are keyword-only: a caller passing fields by position cannot bind
    # one of them to a value meant for another.
    _: KW_ONLY
    # The persons the batch names (at most SHOWN_PER_OUTCOME: those not gone first, then
    # input order), each {"user_id": int, "name", "email", "everywhere": bool (named with
    # `*` or --everywhere), "before": [account] (reached when the run began), "revoked":
    # [account] (a plan: would revoke), "still_reaches": [account] (after the run: the
    # read-back listing when read, else before minus revoked), "outside_batch": [account]
    # (the part of still_reaches the batch did not name), "user_deleted": bool, "verified":
    # True | False | None (not read back), "gone": bool}; the counts are summary["people"],
    # ["people_gone"] and ["people_remaining"]
    people: Sequence[Mapping[str, Any]] = ()
    people_n: int = 0  # persons in all (people.csv lists every one)
    # The rows named with `*` (at most SHOWN_PER_OUTCOME), each {"row": int, "user": str (as
    # written), "accounts": [{"id", "name", "outcome": str}]} ("forbidden": this key may not
    # manage it), and how many there are
    expansions: Sequence[Mapping[str, Any]] = ()
    expansions_n: int = 0
    # "" or why every row means every account ("people.csv has no account column: every row
    # means every account the user can reach"): the first line of both pages when set
    everywhere: str = ""
    # account ID -> its name (the user list's client_company_name), for the per-account
    # breakdown; an account missing here is named from the records when one carries it
    account_names: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobLink:
    """One job of a folder run, for the folder's index page."""

    name: str
    source: str
    exit_code: int
    problem: str  # the one-line reason the exit code is not 0 ("" for 0)
    report: str  # path of the job's report.html, relative to the index page (or "")
    counts: Mapping[str, int] = field(default_factory=dict)
