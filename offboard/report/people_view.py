"""What the pages say about people (issue 21): the People section (who is gone, who still
reaches an account, what was revoked, and the proof), a plan's `*` expansions, and the name
of every account the pages show.

Apart from pages.py, which lays out the whole page: this turns PageData's people and
expansions into the sentences both pages print, so report.html and summary.txt say the same
words. Accounts are written by core.models.account_words, as on every other surface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.models import REVOKING
from ..core.words import account_words
from .pagedata import PageData
from .people import PEOPLE_FILE, People

# What an expanded account's outcome means, said after it; a revoke (REVOKING) needs no words.
EXPANDED = {
    "duplicate": "named by an earlier row",
    "forbidden": "this key may not manage it",
    "token_blocked": "blocked by the user's API tokens",
    "missing": "not a member",
    "skipped": "held back by a guard",
    "failed": "failed",
    "not_attempted": "not sent",
    "invalid": "invalid",
}
# A run's proof per person, the read-back's verdict on their revoked rows: (in the page's
# narrow "read back" column, in a line of text).
PROOF = {
    True: ("verified", "verified by read-back"),
    False: ("access left", "read back: access left"),
    None: ("not read back", "not read back"),
}


@dataclass(frozen=True, slots=True)
class Shown:
    """One person as the pages show them."""

    who: Mapping[str, Any]  # name, email, user_id: what the `who` of the pages reads
    status: str  # "gone (deleted)", "gone", "still reaches 2000 Partner Co, ..."
    revoked: str  # "revoked 1000 Acme HQ" (a plan: "would revoke ...")
    accounts: str  # the same accounts alone, for a table headed "revoked"
    proof: str  # "verified", "access left", "not read back" ("" in a plan)
    proof_line: str  # the same in a sentence: "verified by read-back"
    needs: bool  # named everywhere and still reaches an account: exit code 1
    gone: bool
    deleted: bool  # gone, and Gcore deleted the user (a plan: would delete)


def accounts_words(accounts: Iterable[Mapping[str, Any]]) -> str:
    """'1000 Acme HQ, 2000 Partner Co'."""
    return ", ".join(account_words(a.get("id"), a.get("name")) for a in accounts)


def record_account(record: Mapping[str, Any]) -> str:
    """A journal record's account, named: '1000 Acme HQ' (or '1000', or the text given)."""
    return account_words(record.get("account"), record.get("account_name"))


def people_context(data: PageData, run: bool) -> dict[str, Any]:
    """The values the pages' People and expansion sections read."""
    summary = data.summary
    shown = [_shown(p, run) for p in data.people]
    named = int(summary.get("people", data.people_n) or 0)
    gone = int(summary.get("people_gone", sum(s.gone for s in shown)) or 0)
    remaining = int(summary.get("people_remaining", named - gone) or 0)
    if run:
        line = f"{named} {_people(named)} named; {gone} gone; {remaining} still {_reach(remaining)}"
    else:
        line = (
            f"{named} {_people(named)} named; {gone} would be gone; {remaining} would still reach"
        )
    expansions = [expansion_line(e) for e in data.expansions] if not run else []
    return {
        # An old journal's page (no people counted) has no section rather than a wrong one.
        "show_people": "people" in summary or bool(data.people),
        "people": shown,
        "people_line": f"{line} an account",
        "people_more": max(data.people_n - len(shown), 0),
        "gone_line": _gone_line(shown, run),
        # Exit code 1 may come from a person alone: the verdict says so.
        "verdict_note": (
            f" A person named everywhere {'still reaches' if run else 'would still reach'} "
            "an account: see People."
            if any(s.needs for s in shown)
            else ""
        ),
        "expansions": expansions,
        "expansions_more": max(data.expansions_n - len(expansions), 0) if not run else 0,
        "everywhere": data.everywhere,
    }


def files_of(data: PageData) -> list[str]:
    """The lists the pages link: PageData.files, and people.csv wherever summary.json counts
    people (the job writes the two together, and people.csv even when it names no one)."""
    files = list(data.files)
    if "people" in data.summary and PEOPLE_FILE not in files:
        files = sorted([*files, PEOPLE_FILE])
    return files


def names_of(data: PageData) -> dict[int, str]:
    """Account ID -> name: PageData.account_names, else any record or person naming it."""
    found: dict[int, str] = {}

    def note(account: Any, name: Any) -> None:
        if isinstance(account, int | str) and str(account).isdigit() and name:
            found.setdefault(int(account), str(name))

    for records in (data.deleted, *data.needing.values(), *data.logins.values()):
        for record in records:
            note(record.get("account"), record.get("account_name"))
    for person in data.people:
        for key in ("before", "revoked", "still_reaches"):
            for account in person.get(key) or ():
                note(account.get("id"), account.get("name"))
    for expansion in data.expansions:
        for account in expansion.get("accounts") or ():
            note(account.get("id"), account.get("name"))
    return {**found, **{int(k): str(v) for k, v in data.account_names.items() if v}}


def _shown(person: Mapping[str, Any], run: bool) -> Shown:
    still: Sequence[Mapping[str, Any]] = person.get("still_reaches") or ()
    everywhere = bool(person.get("everywhere"))
    # A batch that named the person by pairs scoped them on purpose: what it did not name
    # is said as such, not as a failure. A person named everywhere has no such part.
    outside_ids = set() if everywhere else {a.get("id") for a in person.get("outside_batch") or ()}
    inside = [a for a in still if a.get("id") not in outside_ids]
    outside = [a for a in still if a.get("id") in outside_ids]
    gone = bool(person.get("gone", not still))
    if gone:
        status = "gone" if run else "would be gone"
        if person.get("user_deleted"):
            status += " (deleted)"
    else:
        parts = [accounts_words(inside)] if inside else []
        if outside:
            parts.append(f"{accounts_words(outside)}, not in this batch")
        status = ("still reaches " if run else "would still reach ") + "; ".join(parts)
    accounts = accounts_words(person.get("revoked") or ())
    if run:
        revoked = f"revoked {accounts}" if accounts else "nothing revoked"
    else:
        revoked = f"would revoke {accounts}" if accounts else "nothing to revoke"
    verified = person.get("verified")
    proof, proof_line = PROOF[verified if isinstance(verified, bool) else None] if run else ("", "")
    return Shown(
        {k: person.get(k) for k in ("name", "email", "user_id")},
        status,
        revoked,
        accounts,
        proof,
        proof_line,
        everywhere and not gone,
        gone,
        gone and bool(person.get("user_deleted")),
    )


def _gone_line(shown: Sequence[Shown], run: bool) -> str:
    """'gone: Bruno Keller (ID 12, deleted), Fatima Zahra (ID 16, deleted)': the shown
    persons who are gone, for the printed page ("" when none is)."""
    named = []
    for person in (s for s in shown if s.gone):
        who = person.who
        label = str(who.get("name") or who.get("email") or "")
        facts = [f"ID {who.get('user_id')}"] if who.get("user_id") is not None else []
        if person.deleted:
            facts.append("deleted")
        named.append(f"{label} ({', '.join(facts)})" if facts else label)
    if not named:
        return ""
    return ("gone: " if run else "would be gone: ") + ", ".join(named)


def expansion_line(expansion: Mapping[str, Any]) -> str:
    """'row 3: alice@acme.example -> 2 accounts: 1000 Acme HQ, 2000 Partner Co (this key may
    not manage it)'."""
    accounts = expansion.get("accounts") or ()
    head = f"row {expansion.get('row')}: {expansion.get('user')} -> "
    if not accounts:
        return head + "no account"
    listed = []
    for account in accounts:
        words = account_words(account.get("id"), account.get("name"))
        outcome = str(account.get("outcome") or "")
        if outcome not in REVOKING:
            words += f" ({EXPANDED.get(outcome, outcome)})"
        listed.append(words)
    n = len(accounts)
    return head + f"{n} account{'' if n == 1 else 's'}: " + ", ".join(listed)


def expansion_lines(people: People) -> list[str]:
    """The terminal's lines for a plan's `*` rows (the first SHOWN of them), under a heading."""
    shown = [f"  {expansion_line(e)}" for e in people.expansions]
    if people.expansions_n > len(shown):
        shown.append(f"  ... and {people.expansions_n - len(shown)} more: see results.csv")
    return ["Rows named everywhere (*), each expanded to its accounts:", *shown] if shown else []


def _people(n: int) -> str:
    return "person" if n == 1 else "people"


def _reach(n: int) -> str:
    return "reaches" if n == 1 else "reach"
