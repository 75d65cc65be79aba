"""pages: report.html, summary.txt and a folder's index.html, from a PageData."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest

from offboard.report.pagedata import SHOWN_PER_OUTCOME, JobLink, PageData
from offboard.report.pages import ACCOUNTS_SHOWN, render_html, render_index, render_text

OUTCOMES = (
    "revoked",
    "missing",
    "token_blocked",
    "forbidden",
    "failed",
    "invalid",
    "duplicate",
    "skipped",
    "not_attempted",
    "would_revoke",
)
SETTLED = {"revoked", "missing", "duplicate", "would_revoke"}
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
STRINGS = ("account", "user", "message", "name", "email", "request_id", "ticket", "settled_at")


class Parsed(HTMLParser):
    """A page as html.parser sees it: its tags, its text, and the text of marked elements."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.marked: list[tuple[dict[str, str | None], list[str]]] = []
        self._open: list[tuple[str, list[str] | None]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag in ("br", "meta", "img", "input", "link"):
            return
        chunks: list[str] | None = None
        if any(name.startswith("data-") for name in found):
            chunks = []
            self.marked.append((found, chunks))
        self._open.append((tag, chunks))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _, chunks in self._open:
            if chunks is not None:
                chunks.append(data)

    def values(self, attribute: str) -> list[tuple[str | None, str]]:
        """(attribute value, element text) of every element carrying `attribute`."""
        return [
            (attrs[attribute], "".join(chunks).strip())
            for attrs, chunks in self.marked
            if attribute in attrs
        ]


def record(row: int, outcome: str, text: str = "", **fields: Any) -> dict[str, Any]:
    """A journal record of one row; `text` (if given) goes into every string field."""
    base: dict[str, Any] = {
        "row": row,
        "account": 1000 + row % 3,
        "user": 100 + row,
        "user_id": 100 + row,
        "outcome": outcome,
        "http_status": 503 if outcome == "failed" else 200,
        "attempts": 1,
        "request_id": f"req-{row}",
        "message": f"row {row} {outcome}",
        "name": f"User {row}",
        "email": f"user{row}@example.com",
        "user_deleted": False,
        "verified": None,
        "settled_at": "2026-12-04T02:00:01.000Z",
        "ticket": f"HR-{row}",
    }
    if outcome == "token_blocked":
        base["tokens"] = [{"id": 500 + row, "name": f"token-{row}", "issuer": str(100 + row)}]
    if text:  # each field its own marked copy, so the test can find every one
        base.update({f: f"{text}{f}:{row}" for f in STRINGS}, user_id=None)
        for token in base.get("tokens", []):
            token.update(name=f"{text}token:{row}", issuer=f"{text}issuer:{row}")
    base.update(fields)
    return base


def page_data(
    records: list[dict[str, Any]],
    command: str = "run",
    *,
    counted: Counter[str] | None = None,
    shown: int = SHOWN_PER_OUTCOME,
    **summary: Any,
) -> PageData:
    """PageData as the journal of `records` gives it (`counted` overrides the counts)."""
    counts = Counter({o: 0 for o in OUTCOMES})
    counts.update(counted or Counter(r["outcome"] for r in records))
    accounts: dict[str, Counter[str]] = {}
    for r in records:
        accounts.setdefault(str(r["account"]), Counter())[r["outcome"]] += 1
    needing = {
        o: [r for r in records if r["outcome"] == o][:shown]
        for o in OUTCOMES
        if o not in SETTLED and counts[o]
    }
    deleted = [r for r in records if r["user_deleted"]]
    key = "users_deleted" if command == "run" else "users_would_be_deleted"
    full = {
        "command": command,
        "run_id": "abc123",
        "rows": sum(counts.values()),
        "counts": dict(counts),
        "exit_code": 0 if all(o in SETTLED for o in +counts) else 1,
        "started_at": "2026-12-04T02:00:00Z",
        "finished_at": "2026-12-04T02:00:09Z",
        "source": "leavers.csv",
        "source_sha256": "ab" * 32,
        "plan": None,
        "aborted": None,
        "resumed": None,
        key: len(deleted),
        "run_by": "it@host",
        "key_user": 1,
        "options": {"rate": 5.0, "protect": []},
        "verified": "on",
        **summary,
    }
    return PageData(
        summary=full,
        accounts={a: dict(c) for a, c in accounts.items()},
        deleted=deleted,
        needing=needing,
        more={o: counts[o] - len(rs) for o, rs in needing.items()},
        files=[f"{o}.csv" for o in OUTCOMES if counts[o]] + ["results.csv"],
        commands={
            "resume": "offboard run leavers.csv --resume reports/x",
            "delete_tokens": "offboard run leavers.csv --delete-tokens",
        },
        carried=["ticket"],
    )


def mixed(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Records with exactly `counts` outcomes, every third revoke deleting its user."""
    rows = [o for o, n in counts.items() for _ in range(n)]
    return [
        record(i + 2, o, user_deleted=(o in ("revoked", "would_revoke") and i % 3 == 0))
        for i, o in enumerate(rows)
    ]


def test_hostile_values_stay_text():
    """`<script>` and `"><img onerror>` in every field are shown as text, never as markup."""
    records = [
        record(i + 2, o, HOSTILE, user_deleted=(o == "revoked"))
        for i, o in enumerate(OUTCOMES[:-1])
    ]
    data = page_data(
        records,
        source=HOSTILE,
        run_by=HOSTILE,
        aborted=HOSTILE,
        plan={"path": HOSTILE, "sha256": HOSTILE},
        options={HOSTILE: HOSTILE, "protect": [HOSTILE]},
        exit_code=3,
    )
    data = PageData(
        **{
            **{f: getattr(data, f) for f in data.__slots__},
            "commands": {"resume": HOSTILE, "delete_tokens": HOSTILE},
            "files": [HOSTILE, "results.csv"],
        }
    )
    page = render_html(data)
    parsed = Parsed(page)
    assert not [tag for tag, _ in parsed.tags if tag in ("script", "img")]
    assert not [attrs for _, attrs in parsed.tags if "onerror" in attrs]
    assert all(
        href.startswith("./")
        for _, attrs in parsed.tags
        for name, href in attrs.items()
        if name == "href" and href is not None
    )
    expected = [HOSTILE]  # the summary's fields, the commands and the file name
    for r in records:
        if r["outcome"] not in SETTLED:
            expected += [r[f] for f in ("account", "user", "message", "name", "email", "ticket")]
        if r["outcome"] in ("failed", "not_attempted"):
            expected.append(r["request_id"])
        if r["user_deleted"]:
            expected += [r[f] for f in ("account", "name", "email", "settled_at")]
        expected += [t[f] for t in r.get("tokens", []) for f in ("name", "issuer")]
    shown = "".join(parsed.text)
    assert [e for e in expected if e not in shown] == []
    assert shown.count(HOSTILE) > 10
    text = " ".join(render_text(data).split())  # values as they are, wrapped at 100
    assert [e for e in expected if e not in text] == []
    assert "&lt;" not in text


@pytest.mark.parametrize("command", ["run", "plan"])
def test_counts_equal_the_summary(command):
    """Every count on the page, the total and the users deleted equal summary's numbers."""
    known = {
        "revoked": 7,
        "missing": 3,
        "token_blocked": 2,
        "forbidden": 1,
        "failed": 4,
        "invalid": 1,
        "duplicate": 2,
        "skipped": 1,
        "not_attempted": 5,
    }
    if command == "plan":
        known = {**known, "would_revoke": known.pop("revoked"), "not_attempted": 0}
    data = page_data(mixed(known), command)
    parsed = Parsed(render_html(data))
    shown = {outcome: int(n) for outcome, n in parsed.values("data-outcome")}
    counts = data.summary["counts"]
    assert {o: n for o, n in shown.items()} == {o: counts[o] for o in shown}
    assert {o for o, n in counts.items() if n} <= set(shown)
    assert [int(n) for _, n in parsed.values("data-total")] == [data.summary["rows"]]
    key = "users_deleted" if command == "run" else "users_would_be_deleted"
    assert data.summary[key] > 0
    assert [int(n) for _, n in parsed.values("data-users-deleted")] == [data.summary[key]]
    assert sum(shown.values()) == data.summary["rows"]


@pytest.mark.parametrize("accounts", [3, ACCOUNTS_SHOWN + 40])
def test_account_breakdown_sums_to_rows(accounts):
    """The per-account table's cells and row totals add up to the row count, however many."""
    records = [
        record(i, OUTCOMES[i % 9], account=str(i % accounts) if i % 7 else "ACME")
        for i in range(2, 2 + 3 * accounts)
    ]
    parsed = Parsed(render_html(page_data(records)))
    cells = [int(n) for _, n in parsed.values("data-account-outcome")]
    totals = [int(n) for _, n in parsed.values("data-account-rows")]
    assert sum(cells) == sum(totals) == len(records)
    assert len(totals) <= ACCOUNTS_SHOWN


def test_big_batch_stays_small():
    """100,000 rows, SHOWN_PER_OUTCOME shown per outcome: under 2 MB, the rest linked."""
    counted = Counter(
        {"revoked": 40_000, "failed": 30_000, "token_blocked": 20_000, "invalid": 10_000}
    )
    shown = [
        record(i + 2, o)
        for o in ("failed", "token_blocked", "invalid")
        for i in range(SHOWN_PER_OUTCOME)
    ]
    deleted = [record(i + 2, "revoked", user_deleted=True) for i in range(5_000)]
    data = page_data(shown + deleted, counted=counted)
    page = render_html(data)
    assert len(page.encode()) < 2_000_000
    more = 30_000 - SHOWN_PER_OUTCOME
    assert f'and {more} more: see <a href="./failed.csv">failed.csv</a>' in page
    assert f"and {more} more: see failed.csv" in render_text(data)
    assert Parsed(page).values("data-total") == [(None, "100000")]


def test_text_has_every_count_and_no_markup():
    """summary.txt names every count, holds no HTML, and fits 100 columns."""
    known = {"revoked": 11, "missing": 3, "token_blocked": 2, "failed": 4, "invalid": 1}
    data = page_data(mixed(known))
    text = render_text(data)
    for outcome, n in known.items():
        assert re.search(rf"^  {outcome} +{n}$", text, re.MULTILINE)
    assert re.search(rf"^  rows +{sum(known.values())}$", text, re.MULTILINE)
    assert re.search(rf"^  users deleted +{data.summary['users_deleted']}$", text, re.MULTILINE)
    assert not re.search(r"</?[a-zA-Z][^>]*>|&[a-z]+;", text)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert data.commands["resume"] in text


def test_text_shows_control_characters():
    """A name with an escape sequence cannot recolour the terminal that shows summary.txt."""
    text = render_text(page_data([record(2, "failed", name="Eve\x1b[2J\x07")]))
    assert "\x1b" not in text and "\x07" not in text
    assert "Eve\\x1b[2J\\x07" in text


def test_index_lists_each_job():
    """The folder's index page lists every job with its exit code and a link to its report."""
    jobs = [
        JobLink("hr", "jobs/hr.yaml", 0, "", "hr-20261204T020000Z/report.html", {"revoked": 3}),
        JobLink(
            "labs",
            "jobs/labs.yaml",
            1,
            "1 token_blocked",
            "labs-20261204T020000Z/report.html",
            {"token_blocked": 1},
        ),
        JobLink(HOSTILE, HOSTILE, 3, HOSTILE, "", {}),
    ]
    page = render_index(jobs, "Folder run of jobs/", "r1", "2026-12-04T02:00:09Z")
    parsed = Parsed(page)
    assert len(parsed.values("data-job")) == 3
    assert [code for code, _ in parsed.values("data-exit-code")] == ["0", "1", "3"]
    hrefs = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert hrefs == ["./hr-20261204T020000Z/report.html", "./labs-20261204T020000Z/report.html"]
    assert not [tag for tag, _ in parsed.tags if tag in ("script", "img")]


def test_page_is_self_contained():
    """report.html loads nothing: no script, no stylesheet link, no remote or CSS url()."""
    data = page_data(
        mixed({"revoked": 2, "failed": 1, "token_blocked": 1}),
        options={"base_url": "https://api.gcore.com"},
    )
    page = render_html(data)
    parsed = Parsed(page)
    assert not [
        t
        for t, _ in parsed.tags
        if t in ("script", "link", "img", "iframe", "object", "embed", "base")
    ]
    assert not [
        v for _, attrs in parsed.tags for v in attrs.values() if v and re.search(r"https?://|//", v)
    ]
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert "@page { size: A4" in style


def test_unverified_and_aborted_pages_say_so():
    """A --no-verify run says its rows are unverified; an aborted run gives reason and resume."""
    data = page_data(
        [record(2, "not_attempted")],
        verified="off",
        exit_code=3,
        aborted="the API rejected the key (401)",
    )
    page, text = render_html(data), render_text(data)
    assert Parsed(page).values("data-unverified")
    assert "UNVERIFIED" in text and "Unverified" in page
    for shown in (page, text):
        assert "the API rejected the key (401)" in shown
        assert "offboard run leavers.csv --resume reports/x" in shown


def test_needing_rows_say_what_to_do():
    """Each outcome needing a person comes with its next step: tokens, role, request ID."""
    data = page_data(
        [record(2, "token_blocked"), record(3, "forbidden", account=3000), record(4, "failed")]
    )
    for shown in (render_html(data), render_text(data)):
        assert (
            "token-2" in shown
            and "502" in shown
            and "offboard run leavers.csv --delete-tokens" in shown
        )
        assert "needs an administrator role in account 3000" in shown
        assert "req-4" in shown and "Gcore support" in shown
