"""The key never shows at the most verbose level either (-vv), in text and JSON logs.

test_secrets_e2e.py covers the default level, -q and -v; this adds -vv, the level a future
debug log (HTTP headers, say) would most likely appear at.
"""

from __future__ import annotations

import pytest

from .conftest import Cli, StartSandbox, world
from .test_run_e2e import results
from .test_secrets_e2e import EVERY_OUTCOME, EVERYTHING, SCRIPT, leaks, report_texts

FORMATS = {"text": [], "json": ["--log-format", "json"]}


@pytest.mark.parametrize("form", list(FORMATS))
def test_the_key_never_appears_at_double_verbose(
    cli: Cli, sandbox: StartSandbox, form: str
) -> None:
    """run and plan with -vv on a batch with a 5xx and a 401: neither the key nor its secret
    part is in stdout, stderr or any report file (hidden ones included)."""
    sb = sandbox(world(faults=SCRIPT))
    cli.write("leavers.csv", EVERYTHING)
    debug = {"OFFBOARD_DEBUG": "1"}  # an internal error would print its traceback: check it too
    done = cli(
        "run",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--concurrency",
        "1",
        "--max-attempts",
        "2",
        "--protect",
        "106",
        "--report-dir",
        "run",
        "-vv",
        *FORMATS[form],
        env=debug,
    )
    assert done.returncode == 3, done.stderr
    assert [r["outcome"] for r in results(cli.cwd / "run")] == EVERY_OUTCOME
    assert "retry" in done.stderr  # -vv really is verbose: the 503's retry is logged
    planned = cli(
        "plan",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--report-dir",
        "plan",
        "-vv",
        *FORMATS[form],
        env=debug,
    )
    assert planned.returncode == 1, planned.stderr
    texts = {
        "run stdout": done.stdout,
        "run stderr": done.stderr,
        "plan stdout": planned.stdout,
        "plan stderr": planned.stderr,
        **{f"run/{k}": v for k, v in report_texts(cli.cwd / "run").items()},
        **{f"plan/{k}": v for k, v in report_texts(cli.cwd / "plan").items()},
    }
    assert {"run/.offboard/lock", "run/.offboard/run.json", "plan/plan.json"} <= set(texts)
    assert [name for name, text in texts.items() if leaks(text)] == []
