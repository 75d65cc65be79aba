"""kept: who the batch revoked but did not delete, and the accounts each keeps."""

from __future__ import annotations

from offboard.core.directory import Directory, Person
from offboard.report.kept import Kept


def test_a_user_deleted_by_a_later_row_is_not_kept_and_an_unknown_one_keeps_unknown():
    """The deleting row may come after a revoke of the same user; a user the list did not
    show keeps None (not known); the rest keep their other accounts, named."""
    kept = Kept()
    records = [
        {"user_id": 11, "outcome": "revoked", "account": 1000, "user_deleted": False},
        {"user_id": 11, "outcome": "revoked", "account": 2000, "user_deleted": True},
        {
            "user_id": 17,
            "outcome": "revoked",
            "account": 1000,
            "user_deleted": False,
            "name": "Grace",
            "email": "g@x.example",
        },
        {"user_id": 18, "outcome": "token_blocked", "account": 2000, "user_deleted": False},
        {"user_id": 99, "outcome": "revoked", "account": 1000, "user_deleted": None},
    ]
    for record in records:
        kept.add(record)
    people = {17: Person(17, "g@x.example", frozenset({1000, 2000, 3000}))}
    listed, n = kept.listed(people, {2000: "Acme Labs"}, shown=10)
    assert n == 2
    assert listed == [
        {
            "user_id": 17,
            "name": "Grace",
            "email": "g@x.example",
            "revoked": ["1000"],
            "keeps": [{"id": 2000, "name": "Acme Labs"}, {"id": 3000, "name": ""}],
        },
        {"user_id": 99, "name": "", "email": "", "revoked": ["1000"], "keeps": None},
    ]
    assert kept.listed(people, {}, shown=1)[1] == 2


def test_the_user_list_names_its_accounts():
    """Directory.names comes from client_and_roles' client_company_name, and only there."""
    users = [
        {
            "id": 1,
            "email": "a@x.example",
            "client_and_roles": [
                {"client_id": 5, "client_company_name": "Five", "user_roles": ["1"]},
                {"client_id": 6},
                "junk",
            ],
        }
    ]
    assert Directory.from_users(users).names == {5: "Five"}
