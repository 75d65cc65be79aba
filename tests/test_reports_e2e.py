"""The reports people read (issue 11), end to end: the real CLI over loopback against the sandbox.

Read-back verification (on by default, the cheaper read, a contradicting or lagging read,
--no-verify), the Excel-ready lists, hostile data through every field, the counts on
report.html, a plan's lists, an unwritable report directory and a big batch's page.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from offboard.report.pagedata import SHOWN_PER_OUTCOME
from offboard.sandbox import RequestRecord, Sandbox

from .conftest import WORLD, Cli, world
from .test_pages import Parsed
from .test_run_e2e import deletes, results

BOM = b"\xef\xbb\xbf"
FAST = ("--rate", "200")  # the sandbox has no rate limit here; keep the runs short
MANAGED = {10, 20}  # the accounts WORLD's key administers: its users there are listed
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def summary(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    return data


def journal(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records: list[dict[str, Any]] = [json.loads(line) for line in lines]
    return records


def after_deletes(sb: Sandbox) -> list[RequestRecord]:
    """The requests that arrived after the run's last DELETE: the read-back."""
    log = sb.requests()
    last = max(i for i, r in enumerate(log) if r.method == "DELETE")
    return log[last + 1 :]


def member_reads(records: list[RequestRecord]) -> list[RequestRecord]:
    return [
        r
        for r in records
        if r.method == "GET" and re.fullmatch(r"/iam/clients/\d+/client-users/\d+", r.path)
    ]


def listing_reads(records: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.method == "GET" and r.path == "/iam/users"]


def listed_users(users: list[dict[str, Any]], managed: set[int] = MANAGED) -> int:
    """How many users GET /iam/users shows the key: those in an account it administers."""
    return sum(1 for u in users if managed & set(u["roles"]))


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(cli: Cli, name: str, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return cli.write(name, out.getvalue())


def big_world(users: int) -> dict[str, Any]:
    """The key's user (1) and `users` plain members of account 10 (ids 1001..)."""
    members = [{"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}}]
    members += [
        {"id": 1001 + i, "email": f"u{i}@t.example", "roles": {10: "Users"}} for i in range(users)
    ]
    return world(accounts=[{"id": 10, "name": "Ten"}], users=members)


# -- verification ------------------------------------------------------------------------------


def test_verification_is_on_by_default_and_recorded_per_row(cli, sandbox):
    """Without options, every revoked row is read back: verified=true in results.csv, the read's
    time and request ID (one the sandbox answered after the DELETEs) in results.jsonl, and
    summary.json says verified "on" with the method and the number of reads."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n20,102\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    out = cli.cwd / "out"
    rows = results(out)
    assert [(r["outcome"], r["verified"]) for r in rows] == [
        ("revoked", "true"),
        ("revoked", "true"),
        ("missing", ""),
    ]
    reads = after_deletes(sb)
    read_ids = {r.request_id for r in reads}
    records = journal(out)
    for record in records[:2]:
        assert record["verified"] is True
        assert record["verify_request_id"] in read_ids
        assert record["verified_at"] >= record["settled_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["verified_at"])
    assert "verified_at" not in records[2] and records[2]["verified"] is None
    s = summary(out)
    assert s["verified"] == "on"
    assert s["verify_method"] in ("per_row", "listing")
    assert s["verify_requests"] == len(reads) > 0
    assert s["verify_contradicted"] == 0


@pytest.mark.parametrize(
    ("users", "revoked"),
    [
        (None, 1),  # 6 listed users: 1 page = 1 row -> a tie goes to per row
        (None, 3),  # 1 page < 3 rows -> listing
        (250, 2),  # 3 pages > 2 rows -> per row
        (250, 3),  # 3 pages = 3 rows -> per row
        (250, 4),  # 3 pages < 4 rows -> listing
    ],
)
def test_the_cheaper_read_is_chosen(cli, sandbox, users, revoked):
    """The read-back uses whichever of one GET per revoked row and the paginated listing
    (100 users a page) costs fewer requests for this batch, and sends exactly that many."""
    if users is None:
        shape, ids = WORLD, [101, 102, 105, 106][:revoked]
    else:
        shape, ids = big_world(users), [1001 + i for i in range(revoked)]
    sb = sandbox(shape)
    cli.write("l.csv", "account,user\n" + "".join(f"10,{u}\n" for u in ids))
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    assert len(deletes(sb)) == revoked
    pages = math.ceil(listed_users(shape["users"]) / 100)
    cheaper = "listing" if pages < revoked else "per_row"
    reads = after_deletes(sb)
    if cheaper == "listing":
        assert len(listing_reads(reads)) == pages and member_reads(reads) == []
    else:
        assert sorted(r.path for r in member_reads(reads)) == sorted(
            f"/iam/clients/10/client-users/{u}" for u in ids
        )
        assert listing_reads(reads) == []
    assert len(reads) == min(pages, revoked)
    s = summary(cli.cwd / "out")
    assert (s["verify_method"], s["verify_requests"]) == (cheaper, len(reads))
    assert [r["verified"] for r in results(cli.cwd / "out")] == ["true"] * revoked


def test_a_contradicting_read_back_fails_the_row(cli, sandbox):
    """The API answers 200 to the revoke of user 101 but its reads still show the membership
    (read_lie): that row ends `failed`, verified=false, with a message saying the read-back
    still finds the user; it is in failed.csv, not revoked.csv; exit 1; the others verified."""
    sb = sandbox(world(faults={"read_lie": [101]}))
    cli.write("l.csv", "account,user,ticket\n10,101,T1\n10,102,T2\n10,105,T3\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 1, done.stderr
    assert not sb.has_access(10, 101)  # the truth: the revoke was applied
    out = cli.cwd / "out"
    rows = results(out)
    assert [(r["user_id"], r["outcome"], r["verified"]) for r in rows] == [
        ("101", "failed", "false"),
        ("102", "revoked", "true"),
        ("105", "revoked", "true"),
    ]
    # the listing (3 rows, 6 users), then the row alone after 1, 2 and 4 s
    assert "still finds the user in account 10 after 4 reads over 7 s" in rows[0]["message"]
    assert rows[0]["user_deleted"] == "false"
    read_again = [
        r for r in member_reads(after_deletes(sb)) if r.path == "/iam/clients/10/client-users/101"
    ]
    assert len(read_again) >= 3 and all(r.status == 200 for r in read_again)
    assert journal(out)[0]["verify_request_id"] == read_again[-1].request_id
    assert read_again[-1].request_id in rows[0]["message"]
    assert [r[3] for r in csv_rows(out / "failed.csv")[1:]] == ["101"]
    assert [r[3] for r in csv_rows(out / "revoked.csv")[1:]] == ["102", "105"]
    s = summary(out)
    assert s["counts"]["failed"] == 1 and s["counts"]["revoked"] == 2
    assert s["exit_code"] == 1 and s["verify_contradicted"] == 1
    assert "1 failed" in done.stderr


def test_a_contradicting_read_per_row_fails_the_row(cli, sandbox):
    """With one revoked row (read per row), a read that keeps showing the membership is read
    four times, at 0, 1, 3 and 7 s, then the row is `failed`, verified=false, exit 1."""
    sb = sandbox(world(faults={"read_lie": True}))
    cli.write("l.csv", "account,user\n10,102\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 1, done.stderr
    assert not sb.user_exists(102)
    reads = after_deletes(sb)
    assert [r.path for r in reads] == ["/iam/clients/10/client-users/102"] * 4
    gaps = [b.time - a.time for a, b in itertools.pairwise(reads)]
    assert all(w - 0.05 <= g < w + 1 for g, w in zip(gaps, (1, 2, 4), strict=True)), gaps
    [row] = results(cli.cwd / "out")
    assert (row["outcome"], row["verified"], row["user_deleted"]) == ("failed", "false", "false")
    assert "after 4 reads over 7 s" in row["message"] and reads[-1].request_id in row["message"]
    s = summary(cli.cwd / "out")
    assert (s["verify_method"], s["verify_requests"], s["users_deleted"]) == ("per_row", 4, 0)


def test_a_lagging_read_is_read_again_until_it_shows_the_revoke(cli, sandbox):
    """Reads that show a removed membership for 1.5 s (read_lag) are read again after 1, 2 and
    4 s: every row ends revoked and verified, exit 0."""
    sb = sandbox(world(faults={"read_lag": 1.5}))
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    assert [(r["outcome"], r["verified"]) for r in results(cli.cwd / "out")] == [
        ("revoked", "true")
    ] * 3
    reads = after_deletes(sb)
    listed = listing_reads(reads)
    again = member_reads(reads)
    assert len(listed) == 1  # 3 rows, 6 users: the listing, which still showed all three ...
    paths = {f"/iam/clients/10/client-users/{u}" for u in (101, 102, 105)}
    assert {r.path for r in again} == paths  # ... so each was read again, no sooner than 1 s
    assert min(r.time for r in again) - listed[0].time >= 0.9
    assert {r.path for r in again if r.status == 404} == paths  # and the lag was outlasted


def test_no_verify_reads_nothing_back_and_the_pages_say_unverified(cli, sandbox):
    """--no-verify: not one request after the DELETEs, `verified` empty, summary verified
    "off", and report.html and summary.txt say the rows are unverified."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--no-verify", "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    assert len(deletes(sb)) == 3 and after_deletes(sb) == []
    out = cli.cwd / "out"
    assert [(r["outcome"], r["verified"]) for r in results(out)] == [("revoked", "")] * 3
    assert all("verified_at" not in r for r in journal(out))
    s = summary(out)
    assert s["verified"] == "off" and "verify_method" not in s
    page = Parsed((out / "report.html").read_text(encoding="utf-8"))
    warning = [
        text
        for attrs, text in [(a, "".join(c)) for a, c in page.marked]
        if "data-unverified" in attrs
    ]
    assert len(warning) == 1 and warning[0].startswith("Unverified")
    assert "off: unverified" in "".join(page.text)
    assert "UNVERIFIED" in (out / "summary.txt").read_text(encoding="utf-8")


def test_a_verified_run_does_not_say_unverified(cli, sandbox):
    """The unverified warning is the --no-verify run's alone: a verified run's pages say that
    every revoke was checked instead."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    assert cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out").returncode == 0
    html = (cli.cwd / "out" / "report.html").read_text(encoding="utf-8")
    text = (cli.cwd / "out" / "summary.txt").read_text(encoding="utf-8")
    assert "data-unverified" not in html and "unverified" not in html.lower()
    assert "unverified" not in text.lower()
    assert "every revoke checked against the API" in html
    assert "every revoke checked against the API" in text


# -- the lists people open ----------------------------------------------------------------------


def test_lists_open_in_excel_with_the_exact_names(cli, sandbox):
    """results.csv and every list start with the UTF-8 byte-order mark and decode to the exact
    non-ASCII names, filled from the API though the rows gave only IDs; results.jsonl has no
    BOM and every line is JSON."""
    users = [dict(u) for u in WORLD["users"]]
    users[1] = {**users[1], "name": "Zoë Ångström"}  # 101
    users[2] = {**users[2], "name": "Łukasz Żółć"}  # 102
    users[3] = {**users[3], "name": "Øystein Ærø"}  # 103, token-blocked
    sb = sandbox(world(users=users))
    cli.write("l.csv", "account,user,ticket\n10,101,Zoë-1\n20,102,Ñ-2\n10,103,ü-3\n")
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "out"
    lists = sorted(out.glob("*.csv"))
    assert [p.name for p in lists] == [
        "last_logins.csv",
        "missing.csv",
        "people.csv",
        "results.csv",
        "revoked.csv",
        "token_blocked.csv",
    ]
    for path in lists:
        raw = path.read_bytes()
        assert raw.startswith(BOM) and not raw[3:].startswith(BOM), path.name
        head = "email,name,flag," if path.name == "last_logins.csv" else "outcome,"
        head = "row,account,user,user_id," + head
        if path.name == "people.csv":
            head = "email,name,user_id,accounts_before,revoked,still_reaches,"
        assert raw.decode("utf-8-sig").startswith(head)
    rows = results(out)
    assert [(r["outcome"], r["name"], r["email"], r["ticket"]) for r in rows] == [
        ("revoked", "Zoë Ångström", "ann@t.example", "Zoë-1"),
        ("missing", "Łukasz Żółć", "Bob@T.example", "Ñ-2"),
        ("token_blocked", "Øystein Ærø", "cy@t.example", "ü-3"),
    ]
    for name, path in (
        ("Zoë Ångström", "revoked.csv"),
        ("Łukasz Żółć", "missing.csv"),
        ("Øystein Ærø", "token_blocked.csv"),
    ):
        assert csv_rows(out / path)[1][9] == name
    assert [r[5] for r in csv_rows(out / "last_logins.csv")[1:]] == [
        "Zoë Ångström",
        "Łukasz Żółć",
        "Øystein Ærø",
    ]
    raw = (out / "results.jsonl").read_bytes()
    assert not raw.startswith(BOM)
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert [r["name"] for r in records] == ["Zoë Ångström", "Łukasz Żółć", "Øystein Ærø"]
    assert "Øystein Ærø" in (out / "report.html").read_text(encoding="utf-8")


def test_hostile_data_never_becomes_markup_or_a_formula(cli, sandbox):
    """Names, emails and token names from the API and `ticket` and `user` cells from the input
    holding <script> and "><img onerror> are text on report.html (no script element, no onerror
    attribute); CSV cells starting with = + - @ are neutralised, results.jsonl keeps them."""
    users = [
        {"id": 1, "email": "admin@t.example", "roles": {10: "Administrators"}},
        {"id": 201, "email": "x@t.example", "name": SCRIPT, "roles": {10: "Users"}},
        {
            "id": 202,
            "email": '"><img/src=x/onerror=alert(1)>@t.example',
            "name": IMG,
            "roles": {10: "Users"},
            "tokens": [{"id": 950, "account": 10, "name": SCRIPT + IMG}],
        },
        {
            "id": 203,
            "email": "+1@t.example",
            "name": '=HYPERLINK("http://x")',
            "roles": {10: "Users"},
        },
        {
            "id": 204,
            "email": "-2@t.example",
            "name": "@SUM(A1)",
            "roles": {10: "Users", 30: "Users"},
        },
    ]
    sb = sandbox(
        world(accounts=[{"id": 10, "name": "Ten"}, {"id": 30, "name": "Thirty"}], users=users)
    )
    write_csv(
        cli,
        "l.csv",
        [
            ["account", "user", "ticket"],
            ["10", "201", SCRIPT],  # revoked, user deleted: in the deleted table
            ["10", "202", IMG],  # token_blocked: name, email, token name
            ["10", "+1@t.example", "=1+1"],  # revoked by a formula-looking email
            ["30", "204", "-2"],  # forbidden
            ["x", IMG, "@SUM(1)"],  # invalid: the input's user shown
            ["10", SCRIPT, "+HR"],  # invalid
        ],
    )
    done = cli("run", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "out"
    html = (out / "report.html").read_text(encoding="utf-8")
    page = Parsed(html)
    assert [tag for tag, _ in page.tags if tag in ("script", "img")] == []
    assert [a for _, a in page.tags if any(name.startswith("on") for name in a)] == []
    assert all(
        href.startswith("./")
        for _, a in page.tags
        for name, href in a.items()
        if name == "href" and href is not None
    )
    shown = "".join(page.text)
    for value in (SCRIPT, IMG, '"><img/src=x/onerror=alert(1)>@t.example', SCRIPT + IMG):
        assert value in shown, value
    assert "<script" not in html and "<img" not in html
    formula = ("=", "+", "-", "@", "\t", "\r")
    for path in out.glob("*.csv"):
        for line in csv_rows(path)[1:]:
            assert [c for c in line if c.startswith(formula)] == [], path.name
    rows = {r["row"]: r for r in results(out)}
    assert rows["4"]["ticket"] == "'=1+1" and rows["4"]["user"] == "'+1@t.example"
    assert rows["4"]["name"] == '\'=HYPERLINK("http://x")'
    assert rows["5"]["ticket"] == "'-2" and rows["5"]["email"] == "'-2@t.example"
    assert rows["5"]["name"] == "'@SUM(A1)"
    assert rows["6"]["ticket"] == "'@SUM(1)" and rows["7"]["ticket"] == "'+HR"
    raw = {r["row"]: r for r in journal(out)}
    assert raw[4]["ticket"] == "=1+1" and raw[5]["name"] == "@SUM(A1)"
    assert raw[2]["ticket"] == SCRIPT and raw[3]["name"] == IMG


# -- the pages' counts and a plan's lists ---------------------------------------------------------


EVERY_OUTCOME = (
    "account,user,ticket\n"
    "10,101,T1\n"  # revoked (would_revoke in a plan)
    "10,bob@t.example,T2\n"  # revoked, user deleted
    "20,102,T3\n"  # missing
    "10,103,T4\n"  # token_blocked
    "30,104,T5\n"  # forbidden
    "10,105,T6\n"  # failed (503 on every attempt)
    "10,abc,T8\n"  # invalid
    "10,101,T9\n"  # duplicate
    "10,1,T10\n"
)  # skipped: the key's own user


@pytest.mark.parametrize("command", ["run", "plan"])
def test_counts_on_the_page_equal_summary_json(cli, sandbox, command):
    """Every count report.html shows (per outcome, rows, rows needing a person, users deleted,
    the per-account breakdown) equals summary.json, for a run and for a plan."""
    sb = sandbox(
        world(faults={"scripted": [{"account": 10, "user": 105, "responses": [503, 503]}]})
    )
    cli.write("l.csv", EVERY_OUTCOME)
    done = cli(
        command, "l.csv", "--base-url", sb.url, *FAST, "--max-attempts", "2", "--report-dir", "out"
    )
    assert done.returncode == 1, done.stderr
    out = cli.cwd / "out"
    s = summary(out)
    page = Parsed((out / "report.html").read_text(encoding="utf-8"))
    shown = {outcome: int(n) for outcome, n in page.values("data-outcome")}
    assert shown == {o: n for o, n in s["counts"].items() if o in shown}
    assert {o for o, n in s["counts"].items() if n} <= set(shown)
    assert len([o for o, n in s["counts"].items() if n]) >= (8 if command == "run" else 7)
    assert [int(n) for _, n in page.values("data-total")] == [s["rows"]] == [9]
    deleted = s["users_deleted" if command == "run" else "users_would_be_deleted"]
    # bob (102) is deleted; a plan counts 105 (its 503s come only from a DELETE) and 103
    # (token-blocked: deleted once its token is) as well
    assert (
        [int(n) for _, n in page.values("data-users-deleted")]
        == [deleted]
        == [1 if command == "run" else 3]
    )
    settled = ("revoked", "would_revoke", "missing", "duplicate")
    needing = sum(n for o, n in s["counts"].items() if o not in settled)
    assert [int(n) for _, n in page.values("data-needing")] == [needing]
    assert [v for _, v in page.values("data-exit-code")] == [f"exit code {s['exit_code']}"]
    by_outcome: dict[str, int] = {}
    for outcome, n in page.values("data-account-outcome"):
        by_outcome[str(outcome)] = by_outcome.get(str(outcome), 0) + int(n)
    assert by_outcome == {o: n for o, n in s["counts"].items() if n}
    assert sum(int(n) for _, n in page.values("data-account-rows")) == s["rows"]
    text = (out / "summary.txt").read_text(encoding="utf-8")
    for outcome, n in s["counts"].items():
        if n:
            assert re.search(rf"^  {outcome} +{n}$", text, re.MULTILINE), outcome


def test_a_plan_writes_would_revoke_not_revoked(cli, sandbox):
    """A plan writes would_revoke.csv, token_blocked.csv and missing.csv (header only when
    empty), never revoked.csv, and reads nothing back."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n")
    done = cli("plan", "l.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    out = cli.cwd / "out"
    assert sorted(p.name for p in out.glob("*.csv")) == [
        "last_logins.csv",
        "missing.csv",
        "people.csv",
        "results.csv",
        "token_blocked.csv",
        "would_revoke.csv",
    ]
    header = csv_rows(out / "results.csv")[0]
    assert csv_rows(out / "token_blocked.csv") == [header]
    assert csv_rows(out / "missing.csv") == [header]
    assert [r[3] for r in csv_rows(out / "would_revoke.csv")[1:]] == ["101", "102"]
    assert (out / "plan.json").is_file() and not (out / "revoked.csv").exists()
    assert deletes(sb) == [] and "verified" not in summary(out)
    assert [r["verified"] for r in results(out)] == ["", ""]


# -- refusals and size ------------------------------------------------------------------------


def test_a_report_directory_under_a_file_fails_before_any_request(cli, sandbox):
    """--report-dir below a regular file cannot be made: exit 2 with one line naming the
    directory, and the sandbox saw no request."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    cli.write("somefile", "not a directory\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "somefile/sub")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "report directory somefile/sub" in lines[0], done.stderr
    assert sb.requests() == []
    assert (cli.cwd / "somefile").read_text() == "not a directory\n"


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="root writes into a 0500 directory: chmod cannot refuse it",
)
def test_an_unwritable_report_directory_fails_before_any_request(cli, sandbox):
    """--report-dir inside a directory the user may not write (0500): exit 2 with one line
    naming the directory, and the sandbox saw no request."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    locked = cli.cwd / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        done = cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "locked/sub")
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "report directory locked/sub" in lines[0], done.stderr
    assert sb.requests() == [] and list(locked.iterdir()) == []


def test_a_big_batch_yields_a_small_page_linking_the_rest(cli, sandbox):
    """3,000 rows, nearly all invalid: report.html stays under 2 MB, shows SHOWN_PER_OUTCOME
    rows of an outcome and says "and N more" with a link to that outcome's CSV; the run takes
    seconds."""
    sb = sandbox()
    bad = 2996
    cli.write(
        "big.csv",
        "account,user,ticket\n10,101,T\n10,102,T\n20,101,T\n10,105,T\n"
        + "".join(f"x,{i},T{i}\n" for i in range(bad)),
    )
    started = time.monotonic()
    done = cli("run", "big.csv", "--base-url", sb.url, *FAST, "--report-dir", "out")
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert took < 30, took
    out = cli.cwd / "out"
    s = summary(out)
    assert s["rows"] == 3000 and s["counts"]["invalid"] == bad and s["counts"]["revoked"] == 4
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(html.encode()) < 2_000_000
    page = Parsed(html)
    assert html.rstrip().endswith("</html>")
    shown = SHOWN_PER_OUTCOME
    more = bad - shown
    assert re.search(rf'and {more} more: see <a href="\./invalid\.csv">invalid\.csv</a>', html)
    invalid_rows = [t for t in page.text if re.fullmatch(r"account: .*", t.strip())]
    assert len(invalid_rows) == shown
    assert len(csv_rows(out / "invalid.csv")) == bad + 1
    assert f"... and {more} more: see invalid.csv" in (out / "summary.txt").read_text()
