"""plan, run PLANFILE, the guards and API tokens: the real CLI against the sandbox."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from collections.abc import Sequence

from .conftest import KEY, WORLD, Cli, world
from .test_run_e2e import deletes, results

# User 103 holds live token 900 in account 10; the key's own user (1) holds 901 there, and
# 103 also has an expired token 902. Only 900 may ever be deleted for 103.
USERS = [dict(u) for u in WORLD["users"]]
USERS[0] = {**USERS[0], "tokens": [{"id": 901, "account": 10, "name": "automation"}]}
USERS[3] = {
    **USERS[3],
    "tokens": [
        {"id": 900, "account": 10, "name": "ci"},
        {"id": 902, "account": 10, "name": "old", "expired": True},
    ],
}
TOKENS_WORLD = world(users=USERS)

BATCH = (
    "account,user,ticket\n"
    "10,101,T1\n"  # 2 would_revoke (keeps account 20)
    "10,bob@t.example,T2\n"  # 3 would_revoke, last account: Bob would be deleted
    "20,102,T3\n"  # 4 missing
    "10,103,T4\n"  # 5 token_blocked (token 900)
    "30,104,T5\n"
)  # 6 forbidden


def test_plan_sends_no_delete_and_reports_what_run_would_do(cli, sandbox):
    """plan: only reads; each row gets would_revoke/missing/forbidden/token_blocked, the
    blocking token IDs, and whose last account it is."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", BATCH)
    done = cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p")
    assert done.returncode == 1, done.stderr
    assert not [r for r in sb.requests() if r.method != "GET"]
    rows = results(cli.cwd / "p")
    assert [r["outcome"] for r in rows] == [
        "would_revoke",
        "would_revoke",
        "missing",
        "token_blocked",
        "forbidden",
    ]
    assert "would delete the user" in rows[1]["message"]
    assert "would delete" not in rows[0]["message"]
    assert "900" in rows[3]["message"] and "902" not in rows[3]["message"]
    summary = json.loads((cli.cwd / "p" / "summary.json").read_text())
    # Bob, and Cy once his token is gone: the rows marked and the summary agree.
    assert summary["users_would_be_deleted"] == 2 and summary["command"] == "plan"
    assert "would delete the user" in rows[3]["message"]
    plan = json.loads((cli.cwd / "p" / "plan.json").read_text())
    assert [r["user_id"] for r in plan["rows"]] == [101, 102, 102, 103, 104]
    assert plan["rows"][1]["deletes_user"] and plan["rows"][3]["tokens"] == [900]
    assert plan["key_user"] == 1 and len(plan["source_sha256"]) == 64
    assert "offboard run p/plan.json" in done.stdout
    assert sb.has_access(10, 101) and sb.user_exists(102)


def test_run_plan_sends_exactly_the_reviewed_rows(cli, sandbox):
    """run PLANFILE: DELETEs exactly the planned rows (the user list is read to check the
    plan's email row against SOURCE, and once more for the read-back), and the summary
    records the plan's hash."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", BATCH)
    assert cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p").returncode == 1
    before = len(sb.requests())
    done = cli("run", "p/plan.json", "--base-url", sb.url, "--report-dir", "r")
    assert done.returncode == 1, done.stderr
    sent = sb.requests()[before:]
    assert sorted(r.path for r in sent if r.method == "DELETE") == [
        "/iam/clients/10/client-users/101",
        "/iam/clients/10/client-users/102",
        "/iam/clients/10/client-users/103",
    ]
    assert len([r for r in sent if r.path == "/iam/users"]) == 2
    rows = results(cli.cwd / "r")
    assert [r["outcome"] for r in rows] == [
        "revoked",
        "revoked",
        "missing",
        "token_blocked",
        "forbidden",
    ]
    assert rows[2]["message"].startswith("at plan time:") and rows[0]["ticket"] == "T1"
    summary = json.loads((cli.cwd / "r" / "summary.json").read_text())
    assert summary["plan"]["path"] == "p/plan.json" and len(summary["plan"]["sha256"]) == 64
    assert summary["users_deleted"] == 1 and not sb.user_exists(102)


def test_a_changed_source_or_an_old_plan_is_refused(cli, sandbox):
    """Editing SOURCE after planning, or a plan over 24 hours old: exit 2, nothing sent."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    assert cli("plan", "l.csv", "--base-url", sb.url, "--report-dir", "p").returncode == 0
    cli.write("l.csv", "account,user\n10,101\n10,105\n")
    before = len(sb.requests())
    changed = cli("run", "p/plan.json", "--base-url", sb.url)
    assert changed.returncode == 2 and "has changed since the plan" in changed.stderr
    cli.write("l.csv", "account,user\n10,101\n")
    plan_path = cli.cwd / "p" / "plan.json"
    plan = json.loads(plan_path.read_text())
    plan["created_at"] = "2026-01-01T00:00:00Z"
    plan_path.write_text(json.dumps(plan))
    old = cli("run", "p/plan.json", "--base-url", sb.url)
    assert old.returncode == 2 and "hours old" in old.stderr
    assert len(sb.requests()) == before and sb.has_access(10, 101)


def test_the_keys_own_user_and_protected_users_are_skipped(cli, sandbox):
    """The key's user (from /iam/clients/me), --protect ID, --protect email and the job's
    protect: list are never revoked."""
    sb = sandbox()
    cli.write(
        "job.yaml",
        "protect: [ed@t.example]\nusers:\n"
        "  - {account: 10, user: 1}\n  - {account: 10, user: 101}\n"
        "  - {account: 10, user: 102}\n  - {account: 10, user: 105}\n"
        "  - {account: 10, user: 106}\n",
    )
    done = cli(
        "run",
        "job.yaml",
        "--base-url",
        sb.url,
        "--protect",
        "101",
        "--protect",
        "FLO@t.example",
        "--report-dir",
        "o",
    )
    assert done.returncode == 1, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["skipped", "skipped", "revoked", "skipped", "skipped"]
    assert "own user" in rows[0]["message"]
    assert [r.path for r in deletes(sb)] == ["/iam/clients/10/client-users/102"]
    assert all(sb.has_access(10, u) for u in (1, 101, 105, 106))


def test_the_cap_refuses_the_whole_batch(cli, sandbox):
    """More revocations than the cap: exit 2, no DELETE, no report; raising it runs."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n10,105\n10,zz\n")
    refused = cli(
        "run", "l.csv", "--base-url", sb.url, "--max-revocations", "2", "--report-dir", "o"
    )
    assert refused.returncode == 2 and "more than the cap of 2" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert deletes(sb) == [] and not (cli.cwd / "o").exists()
    cli.write("job.yaml", "max_revocations: 3\ninput: l.csv\n")
    assert cli("run", "job.yaml", "--base-url", sb.url, "--report-dir", "o").returncode == 1
    assert len(deletes(sb)) == 3


def _run_on_a_terminal(cli: Cli, args: Sequence[str], answer: str | None) -> tuple[int, str]:
    """Run the CLI with stdin/stdout/stderr on a pseudo-terminal; type `answer` at a prompt."""
    main, secondary = pty.openpty()
    environ = {**os.environ, "GCORE_API_KEY": KEY, "TERM": "dumb"}
    process = subprocess.Popen(
        [sys.executable, "-m", "offboard", *args],
        cwd=cli.cwd,
        env=environ,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    seen, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Proceed?" in seen and answer is not None:
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    return process.wait(timeout=30), seen.decode(errors="replace")


def test_a_terminal_asks_for_confirmation_with_the_counts(cli, sandbox):
    """On a TTY: the prompt shows rows, users, accounts and deletions; 'n' sends nothing,
    'y' runs; --yes skips it; without a TTY (cron) there is no prompt."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n10,102\n20,101\n")
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb.url, "--report-dir", "no"], "n"
    )
    assert code == 2 and "Revoke 3 accesses (2 users in 2 accounts)" in screen
    assert "deleted: 2" in screen and deletes(sb) == []
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb.url, "--report-dir", "yes"], "y"
    )
    assert code == 0 and len(deletes(sb)) == 3
    sb2 = sandbox()
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb2.url, "--yes", "--report-dir", "flag"], None
    )
    assert code == 0 and "Proceed?" not in screen
    sb3 = sandbox()
    piped = cli("run", "l.csv", "--base-url", sb3.url, "--report-dir", "cron")
    assert piped.returncode == 0 and "Proceed?" not in piped.stdout + piped.stderr


def test_token_blocked_row_lists_tokens_and_touches_none(cli, sandbox):
    """Without --delete-tokens: the row names the blocking token; no token is deleted."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", "account,user\n10,103\n")
    assert cli("run", "l.csv", "--base-url", sb.url, "--report-dir", "o").returncode == 1
    row = results(cli.cwd / "o")[0]
    assert row["outcome"] == "token_blocked" and "blocking API tokens: 900" in row["message"]
    assert [r.path for r in deletes(sb)] == ["/iam/clients/10/client-users/103"]
    assert sb.live_tokens(10, 103) == [900] and sb.live_tokens(10, 1) == [901]


def test_delete_tokens_removes_only_the_users_own_tokens_then_revokes(cli, sandbox):
    """--delete-tokens: 900 is deleted (not 901, another user's), then the revoke succeeds."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", "account,user\n10,103\n10,101\n")
    done = cli("run", "l.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "o")
    assert done.returncode == 0, done.stderr
    row = results(cli.cwd / "o")[0]
    assert row["outcome"] == "revoked" and "deleted API tokens 900" in row["message"]
    token_deletes = [r.path for r in deletes(sb) if "/tokens/" in r.path]
    assert token_deletes == ["/iam/v2/clients/10/tokens/900"]
    assert sb.live_tokens(10, 1) == [901] and not sb.has_access(10, 103)


def test_delete_tokens_from_the_job_file(cli, sandbox):
    """`delete_tokens: true` in a job file does the same as the flag."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("job.yaml", "delete_tokens: true\nusers: [{account: 10, user: 103}]\n")
    assert cli("run", "job.yaml", "--base-url", sb.url, "--report-dir", "o").returncode == 0
    assert not sb.has_access(10, 103) and sb.live_tokens(10, 1) == [901]


def test_summary_is_an_audit_record_without_the_key(cli, sandbox):
    """summary.json names version, options, source and hash, OS user and host, key user."""
    sb = sandbox()
    cli.write("l.csv", "account,user\n10,101\n")
    assert (
        cli(
            "run", "l.csv", "--base-url", sb.url, "--protect", "105", "--report-dir", "o"
        ).returncode
        == 0
    )
    text = (cli.cwd / "o" / "summary.json").read_text()
    summary = json.loads(text)
    assert summary["offboard_version"] and summary["key_user"] == 1
    assert summary["source"] == "l.csv" and len(summary["source_sha256"]) == 64
    assert "@" in summary["run_by"] and summary["options"]["protect"] == ["105"]
    assert summary["options"]["max_revocations"] == 50 and summary["plan"] is None
    assert KEY.split("_")[1] not in text


def test_the_prompt_names_who_is_deleted_and_every_token_to_delete(cli, sandbox):
    """On a TTY the question names each user the batch deletes entirely and, with
    --delete-tokens, each token it would delete with its name and issuer."""
    sb = sandbox(TOKENS_WORLD)
    cli.write("l.csv", "account,user\n10,101\n20,101\n10,103\n10,105\n")
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "o"], "n"
    )
    assert code == 2 and deletes(sb) == []
    assert "deleted: 3" in screen
    for who in (
        "<ann@t.example> (user 101)",
        "<cy@t.example> (user 103)",
        "<ed@t.example> (user 105)",
    ):
        assert who in screen
    assert "token 900 'ci' issued by cy@t.example in account 10" in screen
    assert "901" not in screen and "902" not in screen  # another user's, and an expired one
