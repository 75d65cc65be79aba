"""Screenshot the demo run's report.html in a real headless browser (Debian's Chromium).

    .venv/bin/python docs/screenshot.py            # runs the demo job, shoots its report.html
    .venv/bin/python docs/screenshot.py --sample   # shoots a page from a hand-built PageData

The demo run exits 1 by design (some of its rows need a person). Chromium: `apt-get install -y
chromium`. The page must render without network access: Chromium is only given the local file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # --sample imports offboard from this checkout

from offboard.report.pagedata import PageData  # noqa: E402
from offboard.report.pages import render_html  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample",
        action="store_true",
        help="render a hand-built PageData instead of running the demo",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--window-size", default="1200,1800")
    args = parser.parse_args()
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(browser).exists():
        print("screenshot: no chromium: apt-get install -y chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="offboard-shot-") as tmp:
        page = Path(tmp) / "reports" / "demo" / "report.html"
        if args.sample:
            page.parent.mkdir(parents=True)
            page.write_text(render_html(sample()), encoding="utf-8")
        elif not run_demo(page.parent):
            return 1
        shoot(browser, page, args.out.resolve(), args.window_size)
    print(f"screenshot: {args.out}")
    return 0


def run_demo(report_dir: Path) -> bool:
    """Run the demo job against the sandbox into report_dir; True if it wrote report.html."""
    # Run from report_dir's parent with a relative --report-dir, so the commands the page
    # shows read as a user's would ("reports/demo/token_blocked.csv"), not a temporary path.
    work = report_dir.parent.parent
    shutil.copytree(ROOT / "jobs", work / "jobs", dirs_exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "offboard",
            "run",
            "jobs/demo.yaml",
            "--sandbox",
            "--yes",
            "--report-dir",
            f"reports/{report_dir.name}",
        ],
        cwd=work,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1 is the demo's design: some rows need a person
        print(f"screenshot: the demo run exited {done.returncode}:\n{done.stderr}", file=sys.stderr)
        return False
    if not (report_dir / "report.html").exists():
        print("screenshot: the demo run wrote no report.html (try --sample)", file=sys.stderr)
        return False
    return True


def shoot(browser: str, page: Path, out: Path, window_size: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="offboard-chromium-") as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={window_size}",
                page.as_uri(),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )


def sample() -> PageData:
    """The demo job's report, as the journal of one run of it would give it."""
    at = "2026-12-04T02:00:0{}Z"
    rows = [
        # row, account, user, user_id, outcome, status, request_id, message, name, email,
        # user_deleted, ticket
        (
            1,
            1000,
            11,
            11,
            "revoked",
            200,
            "bf832e2f",
            "access removed",
            "Alice Martin",
            "alice.martin@acme.example",
            False,
            "HR-101",
        ),
        (
            2,
            1000,
            "bruno.keller@acme.example",
            12,
            "revoked",
            200,
            "47668dbd",
            "access removed",
            "Bruno Keller",
            "bruno.keller@acme.example",
            True,
            "HR-102",
        ),
        (
            3,
            1000,
            13,
            13,
            "token_blocked",
            403,
            "bb3b52b4",
            "the user has active API tokens in this account: delete them, then run again (403: You "
            "can't remove the user as they have active tokens); blocking API tokens: 501",
            "Chen Wei",
            "chen.wei@acme.example",
            False,
            "HR-103",
        ),
        (
            4,
            2000,
            14,
            14,
            "missing",
            404,
            "5d0e91aa",
            "the user is not in this account",
            "Dana Novak",
            "dana.novak@acme.example",
            False,
            "HR-104",
        ),
        (
            5,
            3000,
            15,
            15,
            "forbidden",
            403,
            "c41f7e02",
            "this API key may not manage account 3000 (403: You do not have permission to "
            "perform this action.)",
            "Erik Larsen",
            "erik.larsen@acme.example",
            False,
            "HR-105",
        ),
        (
            6,
            1000,
            16,
            16,
            "revoked",
            200,
            "0e77a1c9",
            "access removed (after 3 attempts)",
            "Fatima Zahra",
            "fatima.zahra@acme.example",
            True,
            "HR-106",
        ),
        (
            7,
            1000,
            "grace.oneil@acme.example",
            17,
            "revoked",
            200,
            "9a12b6f3",
            "access removed",
            "Grace O'Neil",
            "Grace.ONeil@Acme.Example",
            False,
            "HR-107",
        ),
        (
            8,
            1000,
            "left.long.ago@acme.example",
            None,
            "missing",
            None,
            "",
            "no user has this email",
            "",
            "",
            None,
            "HR-108",
        ),
        (
            9,
            1000,
            11,
            11,
            "duplicate",
            None,
            "",
            "the same (account, user) as row 1: not sent",
            "Alice Martin",
            "alice.martin@acme.example",
            False,
            "HR-101",
        ),
        (
            10,
            "ACME",
            18,
            None,
            "invalid",
            None,
            "",
            "account: 'ACME' is not a numeric account ID (a positive integer)",
            "",
            "",
            None,
            "HR-110",
        ),
    ]
    records: list[dict[str, Any]] = []
    for n, (
        row,
        account,
        user,
        user_id,
        outcome,
        status,
        rid,
        message,
        name,
        email,
        deleted,
        ticket,
    ) in enumerate(rows):
        record: dict[str, Any] = {
            "row": row,
            "account": account,
            "user": user,
            "user_id": user_id,
            "outcome": outcome,
            "http_status": status,
            "attempts": 3 if row == 6 else 1,
            "request_id": rid,
            "message": message,
            "name": name,
            "email": email,
            "user_deleted": deleted,
            "verified": True if outcome == "revoked" else None,
            "settled_at": at.format(1 + n // 4),
            "ticket": ticket,
        }
        if outcome == "token_blocked":
            record["tokens"] = [{"id": 501, "name": "ci-deploy", "issuer": "13"}]
        records.append(record)
    counts = dict.fromkeys(
        (
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
        ),
        0,
    )
    accounts: dict[str, dict[str, int]] = {}
    for record in records:
        counts[record["outcome"]] += 1
        cells = accounts.setdefault(str(record["account"]), {})
        cells[record["outcome"]] = cells.get(record["outcome"], 0) + 1
    summary = {
        "command": "run",
        "run_id": "f75f37bfd15a",
        "rows": len(records),
        "counts": counts,
        "exit_code": 1,
        "started_at": at.format(1),
        "finished_at": at.format(3),
        "source": "jobs/demo.yaml",
        "source_sha256": "6c5aea70959ee89cec2ac2170b7c045d04bfb9201f6779d9af11ca60e3beef7a",
        "plan": None,
        "aborted": None,
        "resumed": None,
        "users_deleted": 2,
        "offboard_version": "0.1.0",
        "run_by": "it-admin@ops-host",
        "key_user": 1,
        "verified": "on",
        "verify_method": "GET /iam/users listing",
        "verify_requests": 1,
        "options": {
            "rate": 10.0,
            "concurrency": 4,
            "max_attempts": 5,
            "timeout": 30.0,
            "max_consecutive_failures": 10,
            "base_url": "http://127.0.0.1:41001",
            "sandbox": True,
            "max_revocations": 50,
            "delete_tokens": False,
            "protect": [],
            "yes": True,
            "resume": None,
        },
    }
    needing = {
        o: [r for r in records if r["outcome"] == o]
        for o in ("token_blocked", "forbidden", "invalid")
    }
    files = [
        "results.csv",
        "revoked.csv",
        "token_blocked.csv",
        "missing.csv",
        "forbidden.csv",
        "invalid.csv",
        "duplicate.csv",
    ]
    return PageData(
        summary=summary,
        accounts=accounts,
        deleted=[r for r in records if r["user_deleted"]],
        needing=needing,
        files=files,
        carried=["ticket"],
        commands={"delete_tokens": "offboard run jobs/demo.yaml --sandbox --delete-tokens"},
    )


if __name__ == "__main__":
    sys.exit(main())
