"""report.html on paper and for the reader: A4 page counts, whole words, capped tables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offboard.report.pagedata import SHOWN_PER_OUTCOME
from offboard.sandbox import Sandbox, load_world

from .conftest import KEY, Cli
from .forkserver import ForkServer
from .test_pages import Parsed

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium to print with (apt-get install -y chromium)"
)
A4_WIDTH = 703  # CSS px between the page's 12 mm side margins (210 mm - 24 mm)
# Marks where layout.js may find a line broken inside a word.
CHECK = """<script>
const bad = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walk.nextNode(); node; node = walk.nextNode()) {
  const text = node.textContent;
  let top = null;
  for (let i = 0; i < text.length; i++) {
    const range = document.createRange();
    range.setStart(node, i); range.setEnd(node, i + 1);
    const rects = range.getClientRects();
    if (!rects.length) continue;
    const prev = text[i - 1] || " ";
    const word = /[A-Za-z]-$/.test(text.slice(0, i)) && /[A-Za-z]/.test(text[i]);
    if (top !== null && rects[0].top > top + 2 && !/[\\s\\/]/.test(prev) && !word)
      bad.push(text.slice(Math.max(0, i - 24), i) + "|" + text.slice(i, i + 12));
    top = rects[0].top;
  }
}
document.body.setAttribute("data-broken", JSON.stringify(bad));
</script>"""


def chromium(*args: str) -> str:
    """Run headless Chromium with a fresh profile and no network; its stdout."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="offboard-chromium-") as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def printed_pages(page: Path) -> int:
    """How many A4 pages Chromium prints `page` on (the PDF's /Type /Page objects)."""
    pdf = page.with_suffix(".pdf")
    chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def broken_words(page: Path) -> list[str]:
    """Each place a line breaks inside a word when the page is laid out as printed on A4."""
    html = page.read_text(encoding="utf-8").replace("@media print", "@media all")
    probe = page.with_name("layout.html")
    probe.write_text(html.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dom = chromium(
        f"--window-size={A4_WIDTH},1200", "--virtual-time-budget=3000", "--dump-dom", probe.as_uri()
    )
    found = re.search(r'data-broken="([^"]*)"', dom)
    assert found, dom[-500:]
    broken: list[str] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return broken


def run_demo(cli: Cli) -> Path:
    shutil.copytree(ROOT / "jobs", cli.cwd / "jobs")
    done = cli("run", "jobs/demo.yaml", "--sandbox", "--yes", "--report-dir", "demo", key=None)
    assert done.returncode == 1, done.stderr
    return cli.cwd / "demo"


def hr_world() -> dict[str, Any]:
    """A busy HR batch's world: 310 users in accounts 10 (HQ), 20 (Labs), 30 (Partner)."""
    users: list[dict[str, Any]] = [
        {
            "id": 1,
            "email": "it-admin@acme-corporation.example",
            "roles": {10: "Administrators", 20: "Administrators", 30: "Users"},
        }
    ]
    recent = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(310):
        user: dict[str, Any] = {
            "id": 1001 + i,
            "name": f"Person Number{i}",
            "email": f"person.number{i}@acme-corporation.example",
            "roles": {10: "Users"},
        }
        if 200 <= i < 260:
            user["roles"] = {10: "Users", 20: "Engineers"}  # keeps Labs
        if 260 <= i < 290:
            user["tokens"] = [{"id": 5000 + i, "account": 10, "name": f"ci-deploy-{i}"}]
        if i >= 290:
            user["roles"] = {10: "Users", 30: "Users"}
        if i % 20 == 0:
            user["logins"] = [
                {
                    "at": recent,
                    "account": 10,
                    "ip": "198.51.100.7",
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                }
            ]
        users.append(user)
    return {
        "api_key": KEY,
        "account": 10,
        "key_user": 1,
        "users": users,
        "accounts": [
            {"id": 10, "name": "Acme HQ"},
            {"id": 20, "name": "Acme Labs"},
            {"id": 30, "name": "Partner Co"},
        ],
    }


def hr_batch() -> str:
    """371 rows: 260 revoked (200 delete their user), 30 token_blocked, 20 forbidden,
    20 missing, 21 invalid, 20 duplicate."""
    email = "person.number{}@acme-corporation.example"
    rows = [f"10,{email.format(i)},HR-{i}" for i in range(290)]
    rows += [f"30,{1001 + i},HR-{i}" for i in range(290, 310)]
    rows += [f"20,{1001 + i},HR-{i}" for i in range(20)]
    rows += [f"ACME,{1001 + i},HR-{i}" for i in range(21)]
    rows += [f"10,{1001 + i},HR-{i}" for i in range(20)]
    return "account,user,ticket\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def hr_report(tmp_path_factory: pytest.TempPathFactory, forks: ForkServer | None) -> Path:
    """The report directory of one run of the 371-row batch against its sandbox."""
    cli = Cli(tmp_path_factory.mktemp("hr"), forks)
    cli.write("leavers.csv", hr_batch())
    with Sandbox(load_world(hr_world(), origin="test"), port=0) as sb:
        done = cli(
            "run",
            "leavers.csv",
            "--base-url",
            sb.url,
            "--rate",
            "1000",
            "--concurrency",
            "8",
            "--max-revocations",
            "500",
            "--report-dir",
            "hr",
        )
    assert done.returncode == 1, done.stderr
    return cli.cwd / "hr"


@needs_chromium
def test_the_demo_report_prints_on_one_a4_page(cli):
    """The demo's report.html prints (headless Chromium, A4) on exactly one page, for its
    run and for its plan (which adds the command that runs it)."""
    assert printed_pages(run_demo(cli) / "report.html") == 1
    done = cli("plan", "jobs/demo.yaml", "--sandbox", "--report-dir", "plan", key=None)
    assert done.returncode == 1, done.stderr
    assert printed_pages(cli.cwd / "plan" / "report.html") == 1


@needs_chromium
def test_a_371_row_batch_prints_on_at_most_four_pages(hr_report):
    """A 371-row batch with every kind of row prints on at most 4 A4 pages."""
    summary = json.loads((hr_report / "summary.json").read_text())
    assert summary["rows"] == 371 and summary["counts"]["revoked"] == 260
    assert printed_pages(hr_report / "report.html") <= 4


@needs_chromium
def test_no_email_id_or_time_is_broken_inside_a_word(cli, hr_report):
    """Laid out at A4 width, no line of either page breaks inside an email, ID, time or
    word: only at spaces, `/`, and (through <wbr>) after `@` and `.`."""
    assert broken_words(run_demo(cli) / "report.html") == []
    assert broken_words(hr_report / "report.html") == []


def test_every_table_of_a_big_batch_is_capped_and_links_its_csv(hr_report):
    """Each table of the 371-row page shows at most SHOWN_PER_OUTCOME rows; a longer list
    ends with "and N more" linking the CSV that holds all of it, and that CSV exists."""
    html = (hr_report / "report.html").read_text(encoding="utf-8")
    tables = re.findall(r"<tbody>(.*?)</tbody>", html, re.S)
    assert len(tables) == 8 and all(t.count("<tr") <= SHOWN_PER_OUTCOME for t in tables)
    mores = re.findall(r'and (\d+) more: see <a href="\./([^"]+)">', html)
    assert sorted((int(n), name) for n, name in mores) == sorted(
        [
            (300, "people.csv"),  # 310 persons, 10 shown
            (8, "last_logins.csv"),
            (190, "results.csv"),
            (20, "token_blocked.csv"),
            (10, "forbidden.csv"),
            (11, "invalid.csv"),
            (8, "last_logins.csv"),
        ]
    )
    for _, name in mores:
        assert (hr_report / name).is_file()


def test_the_sign_in_table_lists_only_leavers_with_a_login(cli, hr_report):
    """The sign-in table lists the rows whose user signed in; the rest is one line."""
    page = Parsed((hr_report / "report.html").read_text(encoding="utf-8"))
    text = " ".join(" ".join(page.text).split())
    assert "Last successful sign-in of each leaver (18 rows)" in text
    assert "No successful sign-in seen for the users of the other 332 rows." in text
    demo = run_demo(cli)
    text = " ".join(" ".join(Parsed((demo / "report.html").read_text()).text).split())
    # Counted in rows, as summary.json's logins.quiet: Ivan's `*` row is 3 (one per
    # account) and Alice's duplicate row 9 is read too, so 11 rows of 8 people.
    assert json.loads((demo / "summary.json").read_text())["logins"]["quiet"] == 11
    assert "No successful sign-in seen for the users of 11 rows" in text
    assert "Last successful sign-in" not in text
    summary = " ".join((demo / "summary.txt").read_text().split())
    assert "No successful sign-in seen for the users of 11 rows" in summary


@needs_chromium
def test_a_demo_sized_page_with_people_prints_on_one_a4_page_with_whole_words(tmp_path):
    """The demo's ten rows with eight people (two still reaching an account, one of them
    named everywhere), a plan's expansions and the `everywhere` sentence: one A4 page, and
    no email, ID or account name broken inside a word."""
    import dataclasses

    from offboard.report.pages import render_html

    from .test_pages import page_data, record
    from .test_people_pages import EVERYWHERE, HQ, LABS, PARTNER, crowd, with_people

    demo = {"revoked": 4, "missing": 2, "token_blocked": 1, "forbidden": 1, "invalid": 1}
    outcomes = [o for o, n in demo.items() for _ in range(n)] + ["duplicate"]
    records = [
        record(i + 1, o, account=1000, account_name="Acme HQ", user_deleted=i in (1, 5))
        for i, o in enumerate(outcomes)
    ]
    people = crowd() + [
        {**p, "user_id": p["user_id"] + 10, "name": p["name"] + "-Smythe"} for p in crowd()
    ]
    expansion = {
        "row": 3,
        "user": "alice.martin@acme.example",
        "accounts": [
            {**HQ, "outcome": "would_revoke"},
            {**LABS, "outcome": "would_revoke"},
            {**PARTNER, "outcome": "forbidden"},
        ],
    }
    for command in ("run", "plan"):
        base = page_data(
            [{**r, "outcome": "would_revoke"} if r["outcome"] == "revoked" else r for r in records]
            if command == "plan"
            else records,
            command,
        )
        data = with_people(
            dataclasses.replace(base, files=[*base.files, "people.csv"]),
            people,
            expansions=[expansion],
            expansions_n=1,
            everywhere=EVERYWHERE,
        )
        page = tmp_path / f"{command}.html"
        page.write_text(render_html(data), encoding="utf-8")
        assert "8 people named" in page.read_text(encoding="utf-8")
        assert printed_pages(page) == 1, command
        assert broken_words(page) == [], command


def test_the_pages_say_how_the_read_back_was_done_in_plain_english(cli):
    """Neither page shows the internal words `listing` or `per_row`."""
    demo = run_demo(cli)
    assert json.loads((demo / "summary.json").read_text())["verify_method"] == "listing"
    text = " ".join(Parsed((demo / "report.html").read_text()).text)
    for page in (text, (demo / "summary.txt").read_text()):
        assert "per_row" not in page and "listing" not in page
        assert "by reading the user list once, 1 request" in page


@pytest.mark.parametrize(
    ("method", "words"),
    [
        ("listing", "by reading the user list once, 3 requests"),
        ("per_row", "by reading each revoked row's membership, 3 requests"),
    ],
)
def test_each_read_back_method_is_said_in_words(method, words):
    """Both ways of reading back are said in plain English on the page and in summary.txt."""
    from offboard.report.pages import render_html, render_text

    from .test_pages import page_data, record

    data = page_data([record(2, "revoked")], verify_method=method, verify_requests=3)
    for page in (" ".join(Parsed(render_html(data)).text), render_text(data)):
        assert words in " ".join(page.split()) and method not in page
