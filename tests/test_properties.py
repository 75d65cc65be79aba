"""Property tests (hypothesis): the readers and the classifier take anything without crashing.

- offboard.source.read.parse_csv on arbitrary bytes, and on CSV-shaped text, raises nothing but
  SourceError;
- the YAML reader (read_source on a .yaml file) on arbitrary and YAML-shaped text raises nothing
  but SourceError;
- plan.parse of any row values returns a Target or a problem, never raises;
- classify / classify_check of any Exchange return an outcome and a message, never raise.
"""

from __future__ import annotations

import dataclasses
import string
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest

from offboard.core.errors import SourceError
from offboard.core.models import Exchange, Outcome, Row
from offboard.execute.classify import classify, classify_check
from offboard.plan.rows import Target, parse
from offboard.source.read import parse_csv, read_source

pytest.importorskip("hypothesis", reason="hypothesis is not installed (test extra: hypothesis>=6)")
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- CSV -------------------------------------------------------------------------------------------

CSV_TOKENS = st.sampled_from(
    [
        "account",
        "user",
        "Account ",
        "USER_ID",
        "email",
        "client_id",
        "ticket",
        ",",
        ";",
        '"',
        '""',
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "10",
        "-5",
        "0",
        "1e3",
        "9" * 30,
        "ann@t.example",
        "=1+2",
        "@x",
        "\ufeff",
        "\x00",
        "é",
        "\u2028",
        "\ufffd",
        "a" * 50,
    ]
)
CSV_TEXT = st.lists(CSV_TOKENS, max_size=60).map("".join)


def only_source_errors(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except SourceError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip("\n"), message
        return None


@PROPERTY
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\xff\xfe" + "account,user\n".encode("utf-16-le"))
@example(b"account,user\n10," + b"9" * 200_000 + b"\n")
def test_parse_csv_raises_only_source_error_on_any_bytes(data):
    """Arbitrary bytes: rows, or a SourceError with a one-line message."""
    only_source_errors(parse_csv, data, "fuzz.csv")


@PROPERTY
@given(CSV_TEXT, st.sampled_from(["utf-8", "utf-8-sig"]))
@example('account,user\n10,"unterminated\n', "utf-8")
@example("account,user,user_id\n", "utf-8")
@example("account,user,,\n1,2,3,4,5\n", "utf-8")
def test_parse_csv_raises_only_source_error_on_csv_shaped_text(text, encoding):
    """Text built from CSV pieces (headers, quotes, separators, odd ids): rows with one number
    each, or a SourceError."""
    found = only_source_errors(parse_csv, text.encode(encoding, "surrogatepass"), "fuzz.csv")
    if found is not None:
        rows, columns = found
        assert all(isinstance(r, Row) and r.number >= 2 for r in rows)
        assert len({r.number for r in rows}) == len(rows)
        assert all(isinstance(c, str) for c in columns)


# -- YAML ------------------------------------------------------------------------------------------

YAML_TOKENS = st.sampled_from(
    [
        "- ",
        "-",
        "{",
        "}",
        "[",
        "]",
        ": ",
        ":",
        ", ",
        "\n",
        "  ",
        "? ",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "account",
        "user",
        "users",
        "input",
        "rate",
        "name",
        "sandbox",
        "protect",
        "ticket",
        "10",
        "101",
        "-5",
        "0",
        "0.5",
        ".inf",
        "~",
        "null",
        "true",
        "yes",
        "'q'",
        '"dq"',
        "ann@t.example",
        "!!str ",
        "!!python/object:os.system ",
        "!!set ",
        "!!binary ",
        "!!omap ",
        "<<: ",
        "#",
        "|",
        ">",
        "---",
        "...",
        "%YAML 1.1\n",
        "\t",
        "\x85",
        "\ufeff",
        "é",
        "9" * 30,
    ]
)
YAML_TEXT = st.lists(YAML_TOKENS, max_size=50).map("".join)


def _pyyaml_constructor_bug(exc: BaseException) -> bool:
    """ValueError from PyYAML's own constructors (an impossible date, `!!int x`): the known bug
    that test_hostile_inputs.py::test_yaml_values_pyyaml_cannot_build_are_refused tracks."""
    frames = traceback.extract_tb(exc.__traceback__)
    return isinstance(exc, ValueError) and any(
        f.filename.replace("\\", "/").endswith("yaml/constructor.py") for f in frames
    )


def read_yaml_text(text: str, directory: Path) -> None:
    path = directory / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        only_source_errors(read_source, str(path))
    except ValueError as exc:
        if _pyyaml_constructor_bug(exc):
            reject()
        raise


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@PROPERTY
@given(st.text(max_size=500))
@example("")
@example("- !!python/object/apply:os.system [echo pwned]")
@example("[" * 1000)
def test_yaml_reader_raises_only_source_error_on_any_text(scratch, text):
    """Arbitrary text in a .yaml file: a Batch, or a SourceError with a one-line message."""
    read_yaml_text(text, scratch)


@PROPERTY
@given(YAML_TEXT)
@example("a: &a [x, x]\nb: &b [*a, *a]\nusers: [*b]\n")
@example("users:\n- {account: 10, user: 101, note: [1]}\nprotect: 5\n")
def test_yaml_reader_raises_only_source_error_on_yaml_shaped_text(scratch, text):
    """Text built from YAML pieces (anchors, aliases, tags, job keys): a Batch or a SourceError."""
    read_yaml_text(text, scratch)


# -- plan.parse ------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=80),
    st.text(alphabet=string.digits, min_size=1, max_size=40),
    st.from_regex(r"\A[^@\s]{1,20}@[^@\s]{1,20}\Z"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@PROPERTY
@given(SCALARS, SCALARS, st.text(max_size=20))
def test_parse_never_raises(account, user, problem):
    """Any account and user values: a Target with a positive 64-bit account, or a problem
    naming the field."""
    target = parse(Row(2, account, user, {}, problem))
    if isinstance(target, Target) and target.account is None:  # `*`: every account
        assert isinstance(account, str) and account.strip().lower() in ("*", "all")
    elif isinstance(target, Target):
        assert target.account is not None and 0 < target.account < 2**63
        assert (target.user_id is None) != (target.email is None)
    else:
        assert isinstance(target, str) and target.startswith(("account:", "user:", "row "))


def test_parse_of_a_5000_digit_id_is_a_problem_not_a_crash():
    """A 5,000-digit user ID is `user: ... larger than a 64-bit ID`, like a 30-digit one."""
    assert "larger than a 64-bit ID" in str(parse(Row(2, "10", "9" * 5000)))


# -- classify --------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)

_BY_ANNOTATION = {
    "int | None": st.none() | st.integers(),
    "int": st.integers(),
    "str": st.text(max_size=200),
    "bool": st.booleans(),
    "float | None": st.none() | st.floats(),
    "Any": JSONISH,
}


def exchanges() -> st.SearchStrategy[Exchange]:
    """Any Exchange: every field from its annotation (so new fields are covered too)."""
    fields = {f.name: _BY_ANNOTATION[str(f.type)] for f in dataclasses.fields(Exchange)}
    fields["status"] = (
        st.none()
        | st.integers()
        | st.sampled_from(
            [200, 204, 301, 302, 307, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]
        )
    )
    fields["message"] = st.text(max_size=200) | st.sampled_from(
        ["You can't remove the user as they have active tokens", "TOKEN", ""]
    )
    return st.builds(Exchange, **fields)


@PROPERTY
@given(exchanges())
def test_classify_never_raises(exchange):
    """Any Exchange: classify and classify_check give an outcome and a non-empty message."""
    for judge in (classify, classify_check):
        outcome, message = judge(exchange)
        assert isinstance(outcome, Outcome) and isinstance(message, str) and message
    outcome, _ = classify(exchange)
    if exchange.status is not None and 200 <= exchange.status < 300:
        assert outcome is Outcome.REVOKED
    elif outcome is Outcome.REVOKED:
        pytest.fail(f"revoked without a 2xx: {exchange}")
