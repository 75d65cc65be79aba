"""`offboard restore` through the run's seams: an injected transport, a fake clock and an
injected answer at the prompt (no sockets, no sleeps).

Each test starts from a finished run's report directory written by hand (the files a run
leaves: .offboard/run.json with the batch's users, the journal, summary.json) and drives
`restore()` against an httpx.MockTransport that plays the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.lowlevel
import httpx
import pytest

from offboard.core.errors import Refused
from offboard.core.job import Seams
from offboard.restore.command import Request, restore

from .helpers import FakeClock

URL = "https://api.example.test"
KEY_USER = 1
# (row, user): every user held role 2 (Users) in account 10, and still exists elsewhere
LEAVERS = [(2, 101), (3, 102), (4, 103), (5, 104), (6, 105), (7, 106)]


def finished_run(
    tmp_path: Path, leavers: list[tuple[int, int]] = LEAVERS, name: str = "run"
) -> Path:
    """A finished run's report directory that revoked each leaver from account 10."""
    report = tmp_path / name
    (report / ".offboard").mkdir(parents=True)
    people = {
        str(user): {
            "name": f"User {user}",
            "email": f"u{user}@acme.example",
            "lang": "en",
            "roles": {"10": [2], "20": [2]},
        }
        for _, user in leavers
    }
    (report / ".offboard" / "run.json").write_text(
        json.dumps(
            {"command": "run", "source": "leavers.csv", "source_sha256": "abc", "people": people}
        )
    )
    (report / ".offboard" / "journal.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "row": row,
                    "account": 10,
                    "user": str(user),
                    "user_id": user,
                    "outcome": "revoked",
                    "user_deleted": False,
                }
            )
            + "\n"
            for row, user in leavers
        )
    )
    (report / "summary.json").write_text(
        json.dumps({"key_user": KEY_USER, "options": {"base_url": URL}})
    )
    return report


class Api:
    """The API as a restore sees it: who the key is, the user list (every leaver still
    exists, in account 20 only), and invites answered by `invite` (a callable per request)."""

    def __init__(self, invite: Any = None) -> None:
        self.invites: list[dict[str, Any]] = []
        self._invite = invite or (
            lambda body: httpx.Response(200, json={"user_id": int(body["email"][1:4])})
        )

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/iam/clients/me":
            return httpx.Response(200, json={"currentUser": KEY_USER})
        if request.url.path == "/iam/users":
            users = [
                {
                    "id": user,
                    "email": f"u{user}@acme.example",
                    "name": f"User {user}",
                    "client_and_roles": [{"client_id": 20, "user_roles": ["2"]}],
                }
                for _, user in LEAVERS
            ]
            return httpx.Response(200, json={"count": len(users), "results": users})
        assert request.method == "POST" and request.url.path == "/iam/clients/invite_user"
        body = json.loads(request.content)
        self.invites.append(body)
        reply = self._invite(body)
        if not isinstance(reply, httpx.Response):
            reply = await reply
        return reply


def seams(api: Api, clock: FakeClock | None = None, **given: Any) -> Seams:
    return Seams(
        environ={"GCORE_API_KEY": "42_s3cr3tvalue"},
        transport=httpx.MockTransport(api),
        clock=clock or FakeClock(),
        **given,
    )


def request(report: Path, tmp_path: Path, **given: Any) -> Request:
    values: dict[str, Any] = {
        "base_url": URL,
        "report_dir": str(tmp_path / "restore"),
        "verbosity": -1,
    }
    values.update(given)
    return Request(str(report), **values)


def outcomes(tmp_path: Path) -> dict[int, dict[str, Any]]:
    """The restore's journal, by row."""
    lines = (tmp_path / "restore" / ".offboard" / "journal.jsonl").read_text().splitlines()
    return {record["row"]: record for record in map(json.loads, lines)}


def test_a_503_then_a_200_is_retried_on_the_fake_clock_and_restored(tmp_path):
    """The invite goes through the run's retries: a 503 is retried after a backoff slept on
    the injected clock, and the row ends restored after 2 attempts."""
    report = finished_run(tmp_path, LEAVERS[:1])
    answers = [httpx.Response(503), httpx.Response(200, json={"user_id": 101})]
    api = Api(lambda body: answers.pop(0))
    clock = FakeClock()
    code = restore(request(report, tmp_path), seams(api, clock))
    assert code == 0
    record = outcomes(tmp_path)[2]
    assert record["outcome"] == "restored" and record["attempts"] == 2
    assert len(api.invites) == 2 and clock.sleeps  # the backoff was slept on the fake clock


def test_a_row_whose_worker_raises_ends_failed_and_the_others_are_restored(tmp_path):
    """An unexpected exception while sending one row's invite makes that row `failed`
    (exit 1, the report written); it does not crash the batch or stop the other rows."""
    report = finished_run(tmp_path)

    def invite(body: dict[str, Any]) -> httpx.Response:
        if body["email"] == "u103@acme.example":
            raise RuntimeError("a bug in the transport")
        return httpx.Response(200, json={"user_id": int(body["email"][1:4])})

    code = restore(request(report, tmp_path), seams(Api(invite)))
    assert code == 1
    done = outcomes(tmp_path)
    assert done[4]["outcome"] == "failed" and "internal error: RuntimeError" in done[4]["message"]
    assert {row: r["outcome"] for row, r in done.items() if row != 4} == {
        2: "restored",
        3: "restored",
        5: "restored",
        6: "restored",
        7: "restored",
    }
    summary = json.loads((tmp_path / "restore" / "summary.json").read_text())
    assert summary["counts"] == {"restored": 5, "failed": 1}


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_invites_in_flight_are_bounded_by_concurrency(tmp_path, concurrency):
    """At most --concurrency invites are in flight at once, and that many are (six rows,
    each invite holding its slot over several scheduler turns)."""
    report = finished_run(tmp_path)
    flying = {"now": 0, "peak": 0}

    async def invite(body: dict[str, Any]) -> httpx.Response:
        flying["now"] += 1
        flying["peak"] = max(flying["peak"], flying["now"])
        for _ in range(20):  # give every other worker its turn to start an invite
            await anyio.lowlevel.checkpoint()
        flying["now"] -= 1
        return httpx.Response(200, json={"user_id": int(body["email"][1:4])})

    api = Api(invite)
    code = restore(request(report, tmp_path, numbers={"concurrency": concurrency}), seams(api))
    assert code == 0 and len(api.invites) == 6
    assert flying["peak"] == concurrency


def test_the_prompt_is_asked_through_the_confirm_seam_and_no_sends_nothing(tmp_path):
    """On a terminal the question goes to Seams.confirm (the run's path): 'no' refuses with
    exit 2, no invite sent and no report left; 'yes' restores every row."""
    report = finished_run(tmp_path, LEAVERS[:2])
    asked: list[str] = []
    api = Api()

    def answer(reply: bool) -> Any:
        def confirm(text: str) -> bool:
            asked.append(text)
            return reply

        return confirm

    with pytest.raises(Refused, match="not confirmed"):
        restore(request(report, tmp_path), seams(api, interactive=True, confirm=answer(False)))
    assert api.invites == [] and not (tmp_path / "restore").exists()
    assert "Restore 2 access(es)" in asked[0] and asked[0].endswith("Proceed?")
    assert "u101@acme.example -> account 10 as Users" in asked[0]
    code = restore(request(report, tmp_path), seams(api, interactive=True, confirm=answer(True)))
    assert code == 0 and len(asked) == 2 and len(api.invites) == 2


def test_no_prompt_with_yes_or_off_a_terminal(tmp_path):
    """--yes on a terminal, or stdin not a terminal (cron): the confirm seam is never
    called, and the rows are restored."""

    def never(text: str) -> bool:
        raise AssertionError(f"asked: {text}")

    for name, yes, interactive in (("a", True, True), ("b", False, False)):
        report = finished_run(tmp_path, LEAVERS[:1], name=name)
        api = Api()
        given = request(report, tmp_path, yes=yes, report_dir=str(tmp_path / f"{name}-r"))
        assert restore(given, seams(api, interactive=interactive, confirm=never)) == 0
        assert len(api.invites) == 1


def test_a_401_mid_restore_aborts_and_leaves_the_rest_not_attempted(tmp_path):
    """A 401 on one invite aborts the restore as it aborts a run: exit 3, that row failed,
    every row not yet sent `not_attempted`, and no invite sent after it."""
    report = finished_run(tmp_path)

    def invite(body: dict[str, Any]) -> httpx.Response:
        if body["email"] == "u103@acme.example":
            return httpx.Response(401, json={"message": "Invalid token"})
        return httpx.Response(200, json={"user_id": int(body["email"][1:4])})

    api = Api(invite)
    code = restore(request(report, tmp_path, numbers={"concurrency": 1}), seams(api))
    assert code == 3
    assert {row: r["outcome"] for row, r in outcomes(tmp_path).items()} == {
        2: "restored",
        3: "restored",
        4: "failed",
        5: "not_attempted",
        6: "not_attempted",
        7: "not_attempted",
    }
    assert [b["email"] for b in api.invites][-1] == "u103@acme.example"


def test_the_restore_journal_is_fsynced_by_the_runs_group_commit(tmp_path, monkeypatch):
    """A restore's journal goes through the run's journal file: one group-commit request per
    settled row (no fsync per row on the event loop), and a final fsync when it closes."""
    import offboard.journal.files as files

    commits: list[Commit] = []

    class Commit:
        def __init__(self, descriptor: int) -> None:
            self.requests, self.stopped = 0, False
            commits.append(self)

        def request(self) -> None:
            self.requests += 1

        def stop(self) -> None:
            self.stopped = True

    monkeypatch.setattr(files, "GroupCommit", Commit)
    report = finished_run(tmp_path, LEAVERS[:3])
    assert restore(request(report, tmp_path), seams(Api())) == 0
    assert [(c.requests, c.stopped) for c in commits] == [(3, True)]
