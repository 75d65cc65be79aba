"""The people's pages of a report: report.html (one self-contained page, no network, no
JavaScript, prints on A4), summary.txt (the same as plain text, for `cat` and cron mail) and a
folder run's index.html, rendered with Jinja2 from offboard/templates/.

Every value is data from input files or the API, never markup: the HTML templates autoescape.
The text template prints values as they are, except control characters, which are shown as
`\\xNN` so a name cannot move the cursor or recolour the terminal of whoever runs `cat`.
How one value is written (escaped, wrapped, made visible) is page_filters.py's; what a
person does about each outcome that needs one is todo.py's; this module decides what is said.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ..core.models import NEEDS_A_PERSON, SETTLED, Mode, account_words
from .page_filters import (
    breakable,
    fill,
    href,
    option,
    plain,
    shell,
    visible,
    words,
)
from .pagedata import SHOWN_PER_OUTCOME, JobLink, PageData
from .people_view import files_of, names_of, people_context, record_account
from .template_cache import compiled_cache
from .todo import todo

ACCOUNTS_SHOWN = SHOWN_PER_OUTCOME  # breakdown rows; the rest summed in one, so totals hold

# The colour people expect for each outcome, and the order the counts are listed in.
COLOUR = {
    "revoked": "green",
    "would_revoke": "green",
    "missing": "grey",
    "duplicate": "grey",
    "token_blocked": "amber",
    "skipped": "amber",
    "forbidden": "red",
    "failed": "red",
    "invalid": "red",
    "not_attempted": "red",
}
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


@dataclass(frozen=True, slots=True)
class Group:
    """The rows of one outcome that need a person, with what to do about them."""

    outcome: str
    colour: str
    count: int
    todo: str
    command: str
    records: Sequence[Mapping[str, Any]]
    more: int
    file: str  # the outcome's CSV, when the report has it


def render_html(data: PageData) -> str:
    """report.html: the whole report on one self-contained page."""
    return _environment().get_template("report.html.j2").render(_context(data))


def render_text(data: PageData) -> str:
    """summary.txt: the same content as report.html, as plain text at most WIDTH wide."""
    return _environment().get_template("summary.txt.j2").render(_context(data))


def render_index(jobs: Sequence[JobLink], title: str, run_id: str, finished_at: str) -> str:
    """index.html of a folder run: each job with its exit code, linking its report.html."""
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            title=title,
            run_id=run_id,
            finished_at=finished_at,
            jobs=jobs,
            open_jobs=sum(1 for job in jobs if job.exit_code),
            exit_words=EXIT_WORDS,
        )
    )


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("offboard.report", "templates"),
        # Escaping is on for everything but the text template: a new template is safe by default.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), disabled_extensions=("txt.j2",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
        bytecode_cache=compiled_cache(Path(__file__)),
    )
    env.filters.update(
        plain=plain,
        href=href,
        fill=fill,
        shell=shell,
        visible=visible,
        breakable=breakable,
        words=words,
        account=record_account,
    )
    env.globals.update(colour=lambda outcome: COLOUR.get(outcome, "red"))
    return env


def _context(data: PageData) -> dict[str, Any]:
    summary = data.summary
    mode = Mode(summary.get("command", Mode.RUN))
    run = mode is Mode.RUN
    counts: Mapping[str, int] = summary.get("counts", {})
    hidden = (Mode.PLAN if run else Mode.RUN).revoking  # the other mode's: always 0 here
    listed = [
        o
        for o in [*COLOUR, *sorted(set(counts) - set(COLOUR))]
        if o in counts and (counts[o] or o != hidden)
    ]
    needing_rows = sum(n for o, n in counts.items() if o not in SETTLED)
    deleted_key = "users_deleted" if run else "users_would_be_deleted"
    deleted_n = int(summary.get(deleted_key) or 0)
    deleted = list(data.deleted[:SHOWN_PER_OUTCOME])
    accounts, columns = _breakdown(data.accounts, names_of(data))
    accounts_more = (
        len(data.accounts) - len(accounts) + 1 if len(data.accounts) > len(accounts) else 0
    )
    logins = summary.get("logins") or {}
    after = int(logins.get("after_leaving") or 0)
    unknown = data.logins.get("unknown") or ()
    people = people_context(data, run)
    verdict = _verdict(summary, mode, needing_rows, "resume" in data.commands, after)
    verdict += people["verdict_note"]
    return {
        **people,
        "s": summary,
        "command": mode,
        "title": _title(summary, mode),
        "verdict": verdict,
        "after_leaving": list(data.logins.get("after_leaving", ())),
        "after_n": after,
        "active": list(data.logins.get("active", ())),
        "last_logins": list(data.logins.get("all", ())),
        "logins_n": data.signed_in,
        "not_seen": data.not_seen,
        "active_n": int(logins.get("active") or 0),
        "active_days": logins.get("active_days"),
        "unknown_n": int(logins.get("unknown") or 0),
        "unknown_why": str((unknown[0].get("login") or {}).get("note", "")) if unknown else "",
        "counts": [(o, counts[o]) for o in listed],
        "needing_rows": needing_rows,
        "deleted_label": ("users deleted" if run else "users the run would delete"),
        "deleted_n": deleted_n,
        "deleted": deleted,
        "deleted_more": max(deleted_n, len(data.deleted)) - len(deleted),
        "accounts": accounts,
        "columns": columns,
        "accounts_more": accounts_more,
        "column_totals": {c: sum(row[1].get(c, 0) for row in accounts) for c in columns},
        "groups": _groups(data, counts),
        "carried": list(data.carried),
        "files": files_of(data),
        "commands": data.commands,
        "options": [(str(k), option(v)) for k, v in (summary.get("options") or {}).items()],
        "verified": summary.get("verified") if run else None,  # a plan reads only
        "read_back": _read_back(summary),
    }


def _read_back(summary: Mapping[str, Any]) -> str:
    """The read-back in words: how, and at what cost."""
    if summary.get("verified") != "on":
        return "off: unverified"
    method = summary.get("verify_method")
    how = READ_BACK.get(str(method), plain(method)) if method else ""
    cost = summary.get("verify_requests")
    if how and cost is not None:
        how += f", {cost} request{'' if cost == 1 else 's'}"
    return "every revoke checked against the API" + (f" ({how})" if how else "")


def _title(summary: Mapping[str, Any], mode: Mode) -> str:
    kind = "Offboarding plan" if mode is Mode.PLAN else "Offboarding run"
    return f"{kind} of {summary.get('source', '?')}"


def _verdict(
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


def _breakdown(
    accounts: Mapping[str, Mapping[str, int]], names: Mapping[int, str]
) -> tuple[list[Any], list[str]]:
    """(account, {outcome: n}, total) rows, numeric IDs in order, each account named
    ("1000 Acme HQ"); the outcomes that occur."""

    def key(item: tuple[str, Mapping[str, int]]) -> tuple[int, int, str]:
        text = str(item[0])
        return (0, int(text), "") if text.isdigit() else (1, 0, text)

    items = sorted(accounts.items(), key=key)
    if len(items) > ACCOUNTS_SHOWN:
        biggest = sorted(items, key=lambda item: -sum(item[1].values()))[: ACCOUNTS_SHOWN - 1]
        kept = {account for account, _ in biggest}
        rest = [item for item in items if item[0] not in kept]
        other: dict[str, int] = {}
        for _, cells in rest:
            for outcome, n in cells.items():
                other[outcome] = other.get(outcome, 0) + n
        items = [*sorted(biggest, key=key), (f"{len(rest)} other accounts", other)]
    present = {o for _, cells in items for o, n in cells.items() if n}
    columns = [o for o in [*COLOUR, *sorted(present - set(COLOUR))] if o in present]
    return [
        (
            account_words(a, names.get(int(a), "")) if str(a).isdigit() else str(a),
            dict(c),
            sum(c.values()),
        )
        for a, c in items
    ], columns


def _groups(data: PageData, counts: Mapping[str, int]) -> list[Group]:
    ordered = [str(o) for o in NEEDS_A_PERSON]
    extra = sorted(set(data.needing) - set(ordered))
    groups = []
    for outcome in [*ordered, *extra]:
        records = data.needing.get(outcome, ())
        more = data.more.get(outcome, 0)
        if not records and not more:
            continue
        count = counts.get(outcome, len(records) + more)
        file = f"{outcome}.csv" if f"{outcome}.csv" in data.files else ""
        command = data.commands.get(
            {"token_blocked": "delete_tokens", "failed": "resume", "not_attempted": "resume"}.get(
                outcome, ""
            ),
            "",
        )
        groups.append(
            Group(
                outcome,
                COLOUR.get(outcome, "red"),
                count,
                todo(outcome, data, records),
                command,
                records,
                more,
                file,
            )
        )
    return groups
