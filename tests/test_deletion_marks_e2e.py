"""Who a batch deletes, duplicates or not (issue 19): plan, prompt, run, metrics and page agree.

Run with `--sandbox` on the demo world (jobs/demo.yaml's): Alice (11) is in HQ (1000) and
Labs (2000), Bruno (12, bruno.keller@acme.example) only in HQ.
"""

from __future__ import annotations

import json
import re

import pytest

from .test_plan_and_guards_e2e import _run_on_a_terminal
from .test_run_e2e import results
from .test_seams_e2e import metrics

CASES = {
    # Bruno by ID, then by email: the second row is a duplicate of the first.
    "id_then_email": ("1000,12\n1000,bruno.keller@acme.example\n", 1, ["true", "false"]),
    # Bruno twice, then Alice in both her accounts.
    "twice_then_both": (
        "1000,12\n1000,12\n1000,11\n2000,11\n",
        2,
        ["true", "false", "false", "true"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_duplicate_row_does_not_stop_a_deleted_user_from_being_counted(cli, case):
    """The duplicate settles at once, before the revoke it repeats: the user the revoke
    deletes is still counted, the same number on the plan, the prompt, the run's rows and
    summary, the metrics and the page."""
    rows, deleted, marks = CASES[case]
    cli.write("l.csv", "account,user\n" + rows)
    plan = cli("plan", "l.csv", "--sandbox", "--report-dir", "p")
    assert plan.returncode == 0, plan.stderr
    assert (
        json.loads((cli.cwd / "p" / "summary.json").read_text())["users_would_be_deleted"]
        == deleted
    )
    code, screen = _run_on_a_terminal(
        cli, ["run", "l.csv", "--sandbox", "--report-dir", "r", "--metrics-file", "m.prom"], "y"
    )
    assert code == 0, screen
    assert f"deleted: {deleted}" in screen
    run = cli.cwd / "r"
    assert [r["user_deleted"] for r in results(run)] == marks
    assert json.loads((run / "summary.json").read_text())["users_deleted"] == deleted
    assert metrics(cli.cwd / "m.prom")[("offboard_users_deleted", (("job", "l"),))] == deleted
    page = (run / "report.html").read_text()
    figure = re.search(r"data-users-deleted>(\d+)<", page)
    assert figure is not None and figure.group(1) == str(deleted)


def test_an_email_that_matches_no_user_leaves_user_deleted_empty(cli):
    """No user, so no claim either way: `user_deleted` is empty, in the run and the plan."""
    cli.write("l.csv", "account,user\n1000,left.long.ago@acme.example\n1000,12\n")
    for command in ("plan", "run"):
        done = cli(command, "l.csv", "--sandbox", "--report-dir", command)
        assert done.returncode == 0, done.stderr
        first = results(cli.cwd / command)[0]
        assert (first["outcome"], first["user_id"], first["user_deleted"]) == ("missing", "", "")
