"""The cron folder of plain email lists (issue 21 item 6): a job that is only a list of
people means everyone everywhere, and stays open while any of them still reaches an account.

The real CLI runs the folder over loopback; between two folder runs the sandbox restarts on
the same port with a second world: the API as it stands after the first run, changed the way
a person outside offboard would change it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from offboard.sandbox import Sandbox, load_world

from .conftest import WORLD, Cli, world
from .test_restore_e2e import rows

# gil is in 10, which the key manages, and in 30, which it may not.
GIL = {"id": 107, "email": "gil@t.example", "roles": {10: "Users", 30: "Users"}}
KEY_USER = WORLD["users"][0]


def users(*changed: dict[str, Any]) -> list[dict[str, Any]]:
    """WORLD's users with gil, and with some users replaced (matched by id) or dropped
    (a replacement with no roles)."""
    by_id = {u["id"]: u for u in [*WORLD["users"], GIL]}
    by_id |= {u["id"]: u for u in changed}
    return [u for u in by_id.values() if u["roles"]]


@contextmanager
def serving(mapping: dict[str, Any], port: int = 0) -> Iterator[Sandbox]:
    with Sandbox(load_world(mapping, origin="test"), port=port) as sb:
        yield sb


def jobs_folder(cli: Cli) -> Path:
    """A CSV of one `email` column (gil) and a YAML list of {user: email} (ann)."""
    jobs = cli.cwd / "jobs"
    jobs.mkdir()
    (jobs / "leavers.csv").write_text("email\ngil@t.example\n", encoding="utf-8")
    (jobs / "more.yaml").write_text("- user: ann@t.example\n", encoding="utf-8")
    return jobs


def status(jobs: Path) -> dict[str, str]:
    recorded = json.loads((jobs / ".offboard-state.json").read_text("utf-8"))["jobs"]
    return {name: entry["status"] for name, entry in recorded.items()}


def report_of(cli: Cli, jobs: Path, name: str) -> Path:
    recorded = json.loads((jobs / ".offboard-state.json").read_text("utf-8"))["jobs"]
    return Path(cli.cwd, str(recorded[name]["report_dir"]))


def first_run(cli: Cli, jobs: Path, url: str) -> None:
    """Everyone everywhere the key can: ann is gone; gil still reaches 30, which the key may
    not manage, so his job stays open and the folder exits 1 naming him."""
    done = cli("run", "jobs", "--base-url", url)
    assert done.returncode == 1, done.stderr
    assert "gil@t.example" in done.stderr and "30 Thirty" in done.stderr
    assert status(jobs) == {"leavers.csv": "open", "more.yaml": "finished"}
    assert "finished" not in done.stderr  # nothing claims gil's job done
    index = cli.cwd / done.stderr.split("folder index: ")[1].split()[0]
    page = index.read_text(encoding="utf-8")
    assert page.count('data-exit-code="1"') == 1 and page.count('data-exit-code="0"') == 1
    assert "1 not settled" in page and "gil@t.example (30 Thirty)" in page
    gil = rows(report_of(cli, jobs, "leavers.csv") / "people.csv")
    assert [(p["email"], p["still_reaches"]) for p in gil] == [("gil@t.example", "30 Thirty")]


def test_a_plain_email_list_stays_open_until_its_person_reaches_nothing(cli):
    """Run 1 exits 1 (gil still in 30); someone lets the key manage 30; run 2 resumes the
    job, revokes 30 only, exits 0 and the job is finished; run 3 sends nothing."""
    with serving(world(users=users())) as sb:
        port = sb.port
        jobs = jobs_folder(cli)
        first_run(cli, jobs, sb.url)
    # The key's user is made an administrator of 30; gil is left in 30 alone.
    admin = {**KEY_USER, "roles": {10: "Administrators", 20: "Administrators", 30: "Users"}}
    admin["roles"][30] = "Administrators"
    later = users(admin, {**GIL, "roles": {30: "Users"}}, {"id": 101, "roles": {}})
    with serving(world(users=later), port) as sb:
        again = cli("run", "jobs", "--base-url", sb.url)
        assert again.returncode == 0, again.stderr
        assert status(jobs) == {"leavers.csv": "finished", "more.yaml": "finished"}
        assert [(r.method, r.path) for r in sb.requests() if r.method == "DELETE"] == [
            ("DELETE", "/iam/clients/30/client-users/107")
        ]
        assert not sb.user_exists(107)
        report = report_of(cli, jobs, "leavers.csv")
        gil = rows(report / "people.csv")
        assert [(p["email"], p["still_reaches"], p["user_deleted"]) for p in gil] == [
            ("gil@t.example", "", "true")
        ]
        summary = json.loads((report / "summary.json").read_text("utf-8"))
        assert (summary["exit_code"], summary["people_remaining"]) == (0, 0)
        sent = len(sb.requests())
        third = cli("run", "jobs", "--base-url", sb.url)
        assert third.returncode == 0 and third.stderr.count("skipped: finished") == 2
        assert len(sb.requests()) == sent


def test_a_person_who_gained_an_account_since_is_revoked_there_on_the_next_run(cli):
    """Between the runs gil is also added to 20 (and 30 becomes manageable): the resumed
    job revokes 20 and 30, not only the accounts it knew of, and finishes."""
    with serving(world(users=users())) as sb:
        port = sb.port
        jobs = jobs_folder(cli)
        first_run(cli, jobs, sb.url)
    admin = {
        **KEY_USER,
        "roles": {10: "Administrators", 20: "Administrators", 30: "Administrators"},
    }
    later = users(admin, {**GIL, "roles": {20: "Engineers", 30: "Users"}}, {"id": 101, "roles": {}})
    with serving(world(users=later), port) as sb:
        again = cli("run", "jobs", "--base-url", sb.url)
        assert again.returncode == 0, again.stderr
        assert status(jobs)["leavers.csv"] == "finished"
        assert sorted(r.path for r in sb.requests() if r.method == "DELETE") == [
            "/iam/clients/20/client-users/107",
            "/iam/clients/30/client-users/107",
        ]
        assert not sb.user_exists(107)
        report = report_of(cli, jobs, "leavers.csv")
        revoked = [(r["row"], r["account"]) for r in rows(report / "revoked.csv")]
        assert revoked == [("2", "10"), ("2", "20"), ("2", "30")]
        marks = [r["user_deleted"] for r in rows(report / "revoked.csv")]
        assert sorted(marks) == ["false", "false", "true"]  # the revoke that deleted gil
        # run.json holds the role of the account gained since too: a restore gives it back.
        planned = cli("restore", str(report), "--base-url", sb.url, "--plan", "--report-dir", "p")
        assert planned.returncode == 0, planned.stderr
        back = rows(cli.cwd / "p" / "results.csv")
        assert [(r["account"], r["outcome"], r["role"]) for r in back] == [
            ("10", "would_restore", "Users"),
            ("20", "would_restore", "Engineers"),
            ("30", "would_restore", "Users"),
        ]


def test_a_person_who_gained_an_account_the_key_cannot_manage_is_not_called_deleted(cli):
    """Between the runs gil is added to 20, which the key may no longer manage, and 30
    becomes manageable: the resumed job revokes 30, is forbidden in 20, stays open, and no
    row or list says gil was deleted (the run's recorded deletion no longer holds)."""
    with serving(world(users=users())) as sb:
        port = sb.port
        jobs = jobs_folder(cli)
        first_run(cli, jobs, sb.url)
    admin = {**KEY_USER, "roles": {10: "Administrators", 30: "Administrators"}}
    later = users(admin, {**GIL, "roles": {20: "Engineers", 30: "Users"}}, {"id": 101, "roles": {}})
    with serving(world(users=later), port) as sb:
        again = cli("run", "jobs", "--base-url", sb.url)
        assert again.returncode == 1, again.stderr
        assert "gil@t.example (20 Twenty)" in again.stderr
        assert status(jobs)["leavers.csv"] == "open"
        assert sb.user_exists(107) and not sb.has_access(30, 107)
        report = report_of(cli, jobs, "leavers.csv")
        outcomes = [
            (r["account"], r["outcome"], r["user_deleted"]) for r in rows(report / "results.csv")
        ]
        assert outcomes == [
            ("10", "revoked", "false"),
            ("20", "forbidden", "false"),
            ("30", "revoked", "false"),
        ]
        gil = rows(report / "people.csv")
        assert [(p["still_reaches"], p["user_deleted"]) for p in gil] == [("20 Twenty", "false")]
        summary = json.loads((report / "summary.json").read_text("utf-8"))
        assert summary["users_deleted"] == 0
