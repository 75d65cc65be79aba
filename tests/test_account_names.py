"""Account names on the terminal and on stderr: "1000 Acme HQ", or "1000" with no name."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, cast

import anyio

from offboard.core.models import Action, Outcome, Result, Row, Token
from offboard.core.words import account_words, pair_words
from offboard.http.api import Api
from offboard.job.confirm import question
from offboard.plan.deletions import Deletions
from offboard.report.logs import Log
from offboard.report.summary import Totals
from offboard.report.terminal import print_summary


def test_account_words_is_id_then_name_or_the_id_alone():
    """One formatting for every surface: ID, space, name; the bare ID when the name is empty."""
    assert account_words(1000, "Acme HQ") == "1000 Acme HQ"
    assert account_words(1000, "") == "1000"
    assert account_words("ACME", "") == "ACME"
    assert pair_words(1000, 12, "Acme HQ") == "account 1000 Acme HQ user 12"
    assert pair_words(None, 12, "Acme HQ") == "user 12"


def test_result_and_action_carry_an_account_name_defaulting_to_empty():
    """Result and Action gain `account_name: str = ""`, the field the data side fills."""
    row = Row(2, "1000", "12")
    assert Result(row, Outcome.REVOKED).account_name == ""
    assert Action(row, 1000, 12).account_name == ""
    named = Result(row, Outcome.REVOKED, 1000, 12, account_name="Acme HQ")
    assert named.account_name == "Acme HQ"


def test_each_settled_row_line_names_its_account():
    """-v: a row's stderr line says "account 1000 Acme HQ"; JSON carries account_name."""
    row = Row(3, "1000", "alice@acme.example")
    result = Result(
        row, Outcome.REVOKED, 1000, 11, message="access removed", account_name="Acme HQ"
    )
    text = io.StringIO()
    Log("text", verbosity=1, stream=text).settled(result)
    assert text.getvalue() == (
        "row 3: revoked: account 1000 Acme HQ user alice@acme.example: access removed\n"
    )
    machine = io.StringIO()
    Log("json", stream=machine).settled(result)
    assert json.loads(machine.getvalue())["account_name"] == "Acme HQ"


def test_the_terminal_summary_names_each_account():
    """The rows needing a person under the table say "account 3000 Partner Co"."""
    totals = Totals()
    totals.add(
        {
            "row": 5,
            "account": 3000,
            "account_name": "Partner Co",
            "user": "15",
            "outcome": "forbidden",
            "message": "this API key may not manage that account",
        }
    )
    totals.add(
        {"row": 6, "account": 4000, "user": "16", "outcome": "failed", "message": "HTTP 500"}
    )
    out = io.StringIO()
    print_summary(totals, Path("r"), 1, "", stream=out)
    shown = out.getvalue()
    assert "row 5: forbidden (account 3000 Partner Co user 15)" in shown
    assert "row 6: failed (account 4000 user 16)" in shown


class _Tokens:
    """An Api stand-in that lists one live token per pair."""

    abort_reason = ""

    async def live_token_details(self, account: int, user_id: int) -> list[Token]:
        return [Token(900 + user_id, "ci", "x@acme.example")]


def _ask(**given: Any) -> str:
    base: dict[str, Any] = {
        "sending": 2,
        "users": 1,
        "accounts": 2,
        "deletions": Deletions(),
        "people": {},
        "list_unreadable": False,
        "actions": [],
        "delete_tokens": False,
    }
    base.update(given)
    api = cast(Api, _Tokens())
    return anyio.run(lambda: question(api, **base))


def test_the_prompt_says_why_every_row_means_everywhere_first():
    """The `everywhere` sentence is the prompt's first line when set, absent otherwise."""
    sentence = "people.csv has no account column: every row means every account the user can reach"
    text = _ask(everywhere=sentence)
    assert text.splitlines()[0] == sentence
    assert text.splitlines()[1].startswith("Revoke 2 accesses")
    assert _ask(everywhere="").splitlines()[0].startswith("Revoke 2 accesses")


def test_the_prompt_names_the_accounts_of_its_token_lines():
    """With --delete-tokens, each token line names its account: "in account 1000 Acme HQ"."""
    row = Row(2, "*", "alice@acme.example")
    actions = [Action(row, 1000, 11, account_name="Acme HQ"), Action(row, 2000, 11)]
    text = _ask(actions=actions, delete_tokens=True)
    assert "token 911 'ci' issued by x@acme.example in account 1000 Acme HQ" in text
    assert "in account 2000\n" in text
