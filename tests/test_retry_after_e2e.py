"""A 429 with an absurd or garbage Retry-After on the real path: the CLI against the sandbox,
which scripts the raw header value. One rule reads the value (rate/pause.py's
`checked_retry_after`): garbage is ignored and the retry waits the run's no-hint pause, the
same the controller pauses for; a wait past the cap fails the row at once, naming it."""

from __future__ import annotations

import json

from offboard.http.retry import RETRY_AFTER_CAP
from offboard.rate.pause import NO_HINT_PAUSE

from .test_faults_e2e import check_against_sandbox, fault_world, finished, write_batch

# One of each on the real path: every 429 slows the run's controller, and the six values this
# test once sent (four garbage, two absurd) cost 27 s of waiting, the rate pinned low; two cost
# a few seconds. The others are read by the same rule, table-tested in tests/test_retry_after.py:
# negative, NaN and overflowing ("1e400") values in
# test_an_unusable_retry_after_is_ignored_as_if_absent_and_named, a delta of 7200 s to 1e308 s in
# test_an_absurdly_long_retry_after_is_kept_as_the_servers_figure.
GARBAGE = {300: "soon"}
ABSURD = {305: "Fri, 01 Jan 2999 00:00:00 GMT"}


def _scripted(values: dict[int, str]) -> list[dict[str, object]]:
    return [
        {"account": 10, "user": user, "responses": [{"status": 429, "retry_after": value}]}
        for user, value in values.items()
    ]


def test_a_garbage_or_absurd_retry_after_behaves_as_documented_on_the_real_path(cli, sandbox):
    """Garbage: the row is revoked on its retry, which waited NO_HINT_PAUSE (the run's pause,
    not a backoff of its own), and the log line names the value; absurd: the row fails at once
    with the server's figure, never retried."""
    sb = sandbox(fault_world(scripted=_scripted({**GARBAGE, **ABSURD})))
    lines = [f"10,{user},T{user}" for user in (*GARBAGE, *ABSURD)]
    write_batch(cli, lines)
    done = cli(
        "run",
        "leavers.csv",
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--concurrency",
        "4",
        "--log-format",
        "json",
        "--report-dir",
        "o",
    )
    finished(done, 1)
    events = [json.loads(line) for line in done.stderr.splitlines()]
    retries = {e["path"].rsplit("/", 1)[1]: e for e in events if e["event"] == "retry"}
    for user, value in GARBAGE.items():
        retry = retries[str(user)]
        assert retry["reason"] == f"HTTP 429 (ignored an unusable Retry-After ({value!r}))"
        assert retry["delay"] == NO_HINT_PAUSE, retry
    assert not {str(user) for user in ABSURD} & set(retries)  # never retried
    rows = {r["user"]: r for r in check_against_sandbox(cli.cwd / "o", sb, sb.requests(), lines)}
    assert all(rows[str(user)]["outcome"] == "revoked" for user in GARBAGE), rows
    for user in ABSURD:
        row = rows[str(user)]
        assert row["outcome"] == "failed" and row["attempts"] == "1", row
        assert (
            f"the API asked to wait more than a day; offboard waits at most "
            f"{RETRY_AFTER_CAP:g} s" in row["message"]
        ), row
