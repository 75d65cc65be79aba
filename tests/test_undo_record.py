"""What a restore will need is recorded before anything is revoked (issue 13, part 1): the
role each user held in each account, their e-mail, name and language, in the report's
run.json; and each deleted token's name, role and expiry in the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from offboard.core.directory import Directory, Person

from .conftest import WORLD, world


def meta(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / ".offboard" / "run.json").read_text("utf-8"))
    return data


def journal(report: Path) -> list[dict[str, Any]]:
    lines = (report / ".offboard" / "journal.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_user_list_gives_each_users_role_in_each_account_and_language():
    """`client_and_roles` role IDs come as strings; anything malformed is left out."""
    directory = Directory.from_users(
        [
            {
                "id": 7,
                "email": "a@x",
                "name": "A",
                "lang": "de",
                "client_and_roles": [
                    {"client_id": 10, "user_roles": ["2"]},
                    {"client_id": 20, "user_roles": ["1", "x"]},
                    {"client_id": "30", "user_roles": ["2"]},
                    "junk",
                ],
            },
            {"id": 8, "email": "b@x", "lang": 5, "client_and_roles": None},
        ]
    )
    a, b = directory.people[7], directory.people[8]
    assert a.roles == {10: (2,), 20: (1,)} and a.accounts == {10, 20} and a.lang == "de"
    assert b.roles == {} and b.lang == ""


def test_a_person_round_trips_through_run_json():
    person = Person(7, "a@x", frozenset({10}), "A", "de", {10: (2,), 20: (1, 5)})
    back = Person.from_json(7, json.loads(json.dumps(person.to_json())))
    assert back == Person(7, "a@x", frozenset({10, 20}), "A", "de", {10: (2,), 20: (1, 5)})
    assert Person.from_json(7, {"roles": {"x": [1], "10": ["2", True, 3]}}).roles == {10: (3,)}


def test_a_run_records_the_role_each_revoked_user_had(cli, sandbox):
    """Before the first DELETE, run.json has every user of the batch with their role IDs
    per account (Users = 2, Engineers = 5), e-mail, name and language."""
    sb = sandbox(
        world(users=[*WORLD["users"][:2], {**WORLD["users"][3], "name": "Cy", "lang": "de"}])
    )
    cli.write("leavers.csv", "account,user\n10,101\n20,101\n10,103\n")
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    people = meta(cli.cwd / "out")["people"]
    assert people["101"] == {
        "name": "",
        "email": "ann@t.example",
        "lang": "en",
        "roles": {"10": [2], "20": [2]},
    }
    assert people["103"] == {
        "name": "Cy",
        "email": "cy@t.example",
        "lang": "de",
        "roles": {"10": [5]},
    }


def test_a_deleted_token_keeps_its_name_role_and_expiry_in_the_journal(cli, sandbox):
    """A token cannot be brought back: the journal says what it was, so someone can issue
    a new one (its role is the group's name)."""
    sb = sandbox()
    cli.write("leavers.csv", "account,user\n10,103\n")
    done = cli("run", "leavers.csv", "--base-url", sb.url, "--delete-tokens", "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    (record,) = [r for r in journal(cli.cwd / "out") if r.get("outcome") == "revoked"]
    (token,) = record["tokens"]
    assert (token["id"], token["name"]) == (900, "ci")
    assert token["role"] and "expires" in token


def test_a_run_from_a_plan_records_roles_too(cli, sandbox):
    """`run PLAN.json` of user IDs still reads the user list, so a restore of it knows the
    roles as well."""
    sb = sandbox()
    cli.write("leavers.csv", "account,user\n10,105\n")
    planned = cli("plan", "leavers.csv", "--base-url", sb.url, "--report-dir", "planned")
    assert planned.returncode == 0, planned.stderr
    done = cli("run", "planned/plan.json", "--base-url", sb.url, "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    assert meta(cli.cwd / "out")["people"]["105"]["roles"] == {"10": [2]}
