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

from ..core.models import NEEDS_A_PERSON, SETTLED, Mode
from ..core.words import account_words
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
from .verdict import EXIT_WORDS, read_back, title, verdict

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


def load_templates() -> None:
    """The environment and the pages' templates (compiled, from the cache) loaded ahead of
    the render: job/session.py's prefetch calls it while the last rows are in flight."""
    for name in ("report.html.j2", "summary.txt.j2"):
        _environment().get_template(name)


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
    verdict_words = verdict(summary, mode, needing_rows, "resume" in data.commands, after)
    verdict_words += people["verdict_note"]
    return {
        **people,
        "s": summary,
        "command": mode,
        "title": title(summary, mode),
        "verdict": verdict_words,
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
        "read_back": read_back(summary),
    }


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
