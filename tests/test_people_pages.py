"""pages: the People section, a plan's expansions, the `everywhere` sentence and account
names on report.html and summary.txt, from PageData values built here."""

from __future__ import annotations

import dataclasses
import re
from html import unescape
from typing import Any

from offboard.report.pagedata import SHOWN_PER_OUTCOME, PageData
from offboard.report.pages import render_html, render_text

from .test_pages import HOSTILE, Parsed, page_data, record

HQ = {"id": 1000, "name": "Acme HQ"}
LABS = {"id": 1001, "name": "Acme Labs"}
PARTNER = {"id": 2000, "name": "Partner Co"}
EVERYWHERE = "people.csv has no account column: every row means every account the user can reach"
FORMULA = '=HYPERLINK("http://evil.example","x")'


def person(
    user_id: int,
    name: str,
    *,
    revoked: list[dict[str, Any]],
    still: list[dict[str, Any]] = (),  # type: ignore[assignment]
    outside: list[dict[str, Any]] = (),  # type: ignore[assignment]
    everywhere: bool = False,
    deleted: bool = False,
    verified: bool | None = True,
) -> dict[str, Any]:
    """One entry of PageData.people, in the lead's data contract."""
    return {
        "user_id": user_id,
        "name": name,
        "email": f"{name.split()[0].lower()}@acme.example",
        "everywhere": everywhere,
        "before": [*revoked, *still],
        "revoked": list(revoked),
        "still_reaches": list(still),
        "outside_batch": list(outside),
        "user_deleted": deleted,
        "verified": verified,
        "gone": not still,
    }


def crowd() -> list[dict[str, Any]]:
    """Four persons, those not gone first: an everywhere one still in Partner Co, an
    explicit one still in Partner Co (not in this batch), one gone and deleted, one gone."""
    return [
        person(11, "Alice Martin", revoked=[HQ, LABS], still=[PARTNER], everywhere=True),
        person(12, "Bruno Keller", revoked=[HQ], still=[PARTNER], outside=[PARTNER]),
        person(13, "Chen Wei", revoked=[HQ], deleted=True),
        person(14, "Dana Novak", revoked=[LABS], verified=None),
    ]


def with_people(
    data: PageData, people: list[dict[str, Any]], n: int | None = None, **more: Any
) -> PageData:
    """`data` with the People fields and summary.json's people counts set."""
    total = len(people) if n is None else n
    gone = sum(1 for p in people if p["gone"])
    summary = {
        **data.summary,
        "people": total,
        "people_gone": gone,
        "people_remaining": total - gone,
    }
    return dataclasses.replace(data, summary=summary, people=people, people_n=total, **more)


def text_of(page: str) -> str:
    """The page's words as a reader sees them: line-break chances dropped, tags as spaces."""
    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.S).replace("<wbr>", "")
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def person_rows(page: str) -> dict[str, str]:
    """user ID -> the words of that person's table row."""
    rows = re.findall(r'<tr data-person="(\d+)">(.*?)</tr>', page, re.S)
    return {key: text_of(row) for key, row in rows}


def test_the_people_section_comes_first_with_its_counts():
    """On both pages "People" comes before the counts, saying "4 people named; 2 gone; 2
    still reach an account"."""
    data = with_people(page_data([record(2, "revoked")]), crowd())
    html, text = render_html(data), render_text(data)
    line = "4 people named; 2 gone; 2 still reach an account"
    shown = text_of(html)
    assert line in shown and shown.index(line) < shown.index("Counts")
    assert Parsed(html).values("data-people-counts") == [(None, line + ".")]
    assert line in text and text.index("People\n------") < text.index("Counts\n------")


def test_each_person_says_who_what_is_left_what_was_revoked_and_the_proof():
    """A person's line: name, email, ID; gone (deleted) / gone / still reaches, with "not
    in this batch" for an explicit one; what was revoked; verified or "not read back"; and
    a person named everywhere who still reaches an account is marked as needing a person."""
    data = with_people(page_data([record(2, "revoked")]), crowd())
    rows = person_rows(render_html(data))
    assert rows["11"].startswith("Alice Martin alice@acme.example ID 11 needs a person")
    assert "still reaches 2000 Partner Co" in rows["11"]
    assert "not in this batch" not in rows["11"]
    assert rows["11"].endswith(
        "still reaches 2000 Partner Co 1000 Acme HQ, 1001 Acme Labs verified"
    )
    assert "still reaches 2000 Partner Co, not in this batch" in rows["12"]
    assert "needs a person" not in rows["12"]
    assert "gone (deleted)" in rows["13"] and rows["13"].endswith("1000 Acme HQ verified")
    assert "gone" in rows["14"] and "(deleted)" not in rows["14"]
    assert "not read back" in rows["14"]
    text = " ".join(render_text(data).split())
    assert (
        "Alice Martin, alice@acme.example, user 11, named everywhere: NEEDS A PERSON: still "
        "reaches 2000 Partner Co revoked 1000 Acme HQ, 1001 Acme Labs; verified by read-back"
    ) in text
    assert (
        "Bruno Keller, bruno@acme.example, user 12: still reaches 2000 Partner Co, not in "
        "this batch"
    ) in text
    assert "Chen Wei, chen@acme.example, user 13: gone (deleted)" in text
    assert (
        "Dana Novak, dana@acme.example, user 14: gone revoked 1001 Acme Labs; not read back" in text
    )


def test_a_plan_says_would():
    """A plan's people "would still reach" and "would revoke", with no read-back claimed."""
    data = with_people(page_data([record(2, "would_revoke")], "plan"), crowd())
    page, text = render_html(data), " ".join(render_text(data).split())
    line = "4 people named; 2 would be gone; 2 would still reach an account"
    assert line in text and line in text_of(page)
    assert (
        "Bruno Keller, bruno@acme.example, user 12: would still reach 2000 Partner Co, not "
        "in this batch would revoke 1000 Acme HQ"
    ) in text
    assert "Chen Wei, chen@acme.example, user 13: would be gone (deleted)" in text
    rows = person_rows(page)
    assert rows["12"].endswith("would still reach 2000 Partner Co, not in this batch 1000 Acme HQ")
    assert rows["13"].endswith("would be gone (deleted) 1000 Acme HQ")
    people = page.split("<section data-people>", 1)[1].split("</section>", 1)[0]
    assert '<th class="done">would revoke</th>' in people
    for shown in (text, text_of(page)):
        assert "read back" not in shown and "read-back" not in shown


def test_a_long_people_list_is_capped_and_links_people_csv():
    """Only the shown persons are listed; the rest are "and N more" linking people.csv."""
    shown = [person(100 + i, f"P{i} X", revoked=[HQ]) for i in range(SHOWN_PER_OUTCOME)]
    base = page_data([record(2, "revoked")])
    data = with_people(dataclasses.replace(base, files=[*base.files, "people.csv"]), shown, n=37)
    html = render_html(data)
    assert len(Parsed(html).values("data-person")) == SHOWN_PER_OUTCOME
    more = 37 - SHOWN_PER_OUTCOME
    assert f'and {more} more: see <a href="./people.csv">people.csv</a>' in html
    assert f"... and {more} more: see people.csv" in render_text(data)


def test_the_printed_page_names_the_gone_on_one_line():
    """Under the People table one line names the shown persons who are gone ("gone: Chen
    Wei (ID 13, deleted), Dana Novak (ID 14)"; a plan: "would be gone: ..."), hidden on
    screen and shown on paper, where the gone persons' rows are hidden instead."""
    for command, first in (("revoked", "gone: "), ("would_revoke", "would be gone: ")):
        mode = "run" if command == "revoked" else "plan"
        html = render_html(with_people(page_data([record(2, command)], mode), crowd()))
        line = f"{first}Chen Wei (ID 13, deleted), Dana Novak (ID 14)"
        assert Parsed(html).values("data-gone-line") == [(None, line)]
        style = html.split("<style>", 1)[1].split("</style>", 1)[0]
        screen, paper = style.split("@media print", 1)
        assert ".gone-line { display: none;" in screen
        assert ".gone-line { display: block; }" in paper
        assert "table.people tbody tr:has(.gone) { display: none; }" in paper
    still = [p for p in crowd() if not p["gone"]]
    html = render_html(with_people(page_data([record(2, "revoked")]), still))
    assert Parsed(html).values("data-gone-line") == []


def test_a_page_that_counts_people_links_people_csv():
    """The job writes people.csv with the people counts: a page whose summary counts people
    lists and links people.csv, though PageData.files (the outcome lists) omits it."""
    shown = [person(100 + i, f"P{i} X", revoked=[HQ]) for i in range(SHOWN_PER_OUTCOME)]
    data = with_people(page_data([record(2, "revoked")]), shown, n=12)
    assert "people.csv" not in data.files
    html = render_html(data)
    assert 'and 2 more: see <a href="./people.csv">people.csv</a>' in html
    assert '<li><a href="./people.csv">people.csv</a></li>' in html
    assert "people.csv" in render_text(data).split("Lists: ", 1)[1]
    assert 'href="./people.csv"' not in render_html(page_data([record(2, "revoked")]))


def test_a_batch_without_people_data_shows_no_people_section():
    """A page made without the people fields (an old journal) has no People section."""
    data = page_data([record(2, "revoked")])
    assert "People" not in text_of(render_html(data))
    assert "People\n" not in render_text(data)


def test_a_plan_shows_each_expansion_and_the_everywhere_sentence_first():
    """A plan's pages: the `everywhere` sentence is the first line, and each `*` row is
    shown as "row 3: alice@acme.example -> 3 accounts: 1000 Acme HQ, 1001 Acme Labs, 2000
    Partner Co (this key may not manage it)"."""
    expansions = [
        {
            "row": 3,
            "user": "alice@acme.example",
            "accounts": [
                {**HQ, "outcome": "would_revoke"},
                {**LABS, "outcome": "would_revoke"},
                {**PARTNER, "outcome": "forbidden"},
            ],
        },
        {"row": 4, "user": "zed@acme.example", "accounts": []},
    ]
    data = with_people(
        page_data([record(2, "would_revoke")], "plan"),
        crowd(),
        expansions=expansions,
        expansions_n=12,
        everywhere=EVERYWHERE,
    )
    line = (
        "row 3: alice@acme.example -> 3 accounts: 1000 Acme HQ, 1001 Acme Labs, "
        "2000 Partner Co (this key may not manage it)"
    )
    text = render_text(data)
    assert text.splitlines()[0] == EVERYWHERE
    flat = " ".join(text.split())
    assert line in flat and "row 4: zed@acme.example -> no account" in flat
    assert "... and 10 more: see results.csv" in text
    html = render_html(data)
    shown = text_of(html)
    assert shown.split(" Offboarding plan")[0].endswith(EVERYWHERE)
    body = html[html.index("<body>") :]
    first = re.sub(r"<[^>]+>", " ", body).split()
    assert " ".join(first[: len(EVERYWHERE.split())]) == EVERYWHERE
    assert line in shown
    assert Parsed(html).values("data-everywhere") == [(None, EVERYWHERE)]


def test_a_run_without_everywhere_has_no_such_line():
    """With `everywhere` empty neither page carries the sentence or its element."""
    data = page_data([record(2, "revoked")])
    assert not Parsed(render_html(data)).values("data-everywhere")
    assert render_text(data).splitlines()[0].startswith("Offboarding run of")


def test_accounts_are_named_wherever_they_appear():
    """Rows needing a person, users deleted and the per-account breakdown show "1000 Acme
    HQ"; an account with no name is its ID alone."""
    records = [
        record(2, "revoked", account=1000, account_name="Acme HQ", user_deleted=True),
        record(3, "forbidden", account=2000, account_name="Partner Co"),
        record(4, "failed", account=3000),
    ]
    data = page_data(records)
    page, text = render_html(data), render_text(data)
    breakdown = page.split('class="breakdown"', 1)[1].split("</tbody>", 1)[0]
    cells = [text_of(c) for c in re.findall(r"<tr><td>(.*?)</td>", breakdown)]
    assert cells == ["1000 Acme HQ", "2000 Partner Co", "3000"]
    flat = " ".join(text.split())
    assert "1000 Acme HQ: 1 row: 1 revoked" in flat and "3000: 1 row: 1 failed" in flat
    assert "account 1000 Acme HQ, settled" in flat
    assert "row 3, account 2000 Partner Co, user 103" in flat
    assert "needs an administrator role in account 2000 Partner Co" in flat
    deleted = page.split("Users deleted entirely", 1)[1].split("</table>", 1)[0]
    assert "1000 Acme HQ" in text_of(deleted)
    needing = page.split("Needs a person", 1)[1]
    assert "2000 Partner Co" in text_of(needing)


def test_the_breakdown_uses_the_names_given_for_it():
    """PageData.account_names names an account no shown record carries a name for."""
    data = dataclasses.replace(
        page_data([record(2, "revoked", account=1000)]), account_names={1000: "Acme HQ"}
    )
    assert "1000 Acme HQ: 1 row: 1 revoked" in render_text(data)


def test_hostile_account_names_stay_text():
    """`<script>` and a formula as an account's name, in records, people and expansions,
    are shown as text on the page, never as markup."""
    bad = {"id": 2000, "name": HOSTILE}
    formula = {"id": 3000, "name": FORMULA}
    records = [
        record(2, "forbidden", account=2000, account_name=HOSTILE, user_deleted=True),
        record(3, "failed", account=3000, account_name=FORMULA),
    ]
    people = [person(11, "Alice Martin", revoked=[formula], still=[bad], everywhere=True)]
    expansions = [{"row": 2, "user": "a@x", "accounts": [{**bad, "outcome": "forbidden"}]}]
    data = with_people(
        page_data(records, "plan"),
        people,
        expansions=expansions,
        expansions_n=1,
        everywhere=HOSTILE,
    )
    html = render_html(data)
    parsed = Parsed(html)
    assert not [tag for tag, _ in parsed.tags if tag in ("script", "img")]
    assert not [attrs for _, attrs in parsed.tags if "onerror" in attrs]
    shown = "".join(parsed.text)
    assert shown.count(f"2000 {HOSTILE}") >= 4  # breakdown, people, expansion, rows
    assert f"3000 {FORMULA}" in shown
    text = render_text(data)
    assert "&lt;" not in text and f"2000 {HOSTILE}" in " ".join(text.split())


def test_the_kept_section_is_gone():
    """ "Revoked but not deleted" is superseded by People: the section is gone."""
    data = page_data([record(2, "revoked")])
    assert "Revoked but not deleted" not in render_html(data)
    assert "Revoked but not deleted" not in render_text(data)


def test_the_people_fields_are_keyword_only():
    """PageData's issue-21 fields cannot be given by position (nor bound by mistake)."""
    names = [f.name for f in dataclasses.fields(PageData) if f.kw_only]
    assert names == [
        "people",
        "people_n",
        "expansions",
        "expansions_n",
        "everywhere",
        "account_names",
    ]
