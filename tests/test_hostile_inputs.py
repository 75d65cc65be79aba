"""Hostile input files, end to end: the corpus in tests/hostile/ (small files, committed) and big
ones made in tmp_path, each run through the real CLI against a sandbox.

Each input ends one of two ways, within seconds:
- refused: exit 2, one line on stderr starting `offboard: ` (no traceback), no request at all and
  no report directory left behind;
- run: the bad rows are `invalid` (and never sent: no DELETE names them), the good ones, odd but
  valid emails included, resolve to the right user.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offboard.sandbox import Sandbox

from .conftest import KEY, WORLD, Cli
from .test_faults_e2e import revokes_sent
from .test_run_e2e import results

HOSTILE = Path(__file__).with_name("hostile")
QUICK = 10.0  # seconds: "within seconds", with room for a loaded CI machine

# Users with odd but valid emails, added to the test world.
ODD_USERS: list[dict[str, Any]] = [
    {"id": 201, "email": "ann+offboard@t.example", "roles": {10: "Users"}},
    {"id": 202, "email": '"cy.q"@t.example', "roles": {10: "Users"}},
    {"id": 203, "email": "di@mail.sub.t.example", "roles": {10: "Users"}},
    {"id": 204, "email": "Élodie@bücher.example", "roles": {10: "Users"}},
    {"id": 205, "email": "O'Neil@t.example", "roles": {10: "Users"}},
    {"id": 206, "email": "x" * 64 + "@t.example", "roles": {10: "Users"}},
]
HOSTILE_WORLD = {**WORLD, "users": [*WORLD["users"], *ODD_USERS]}


def run_file(
    cli: Cli, sb: Sandbox, source: Path | str, *args: str, timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Copy a corpus file (or use one already in the work directory) and run it."""
    name = Path(source).name
    if Path(source).is_absolute():
        shutil.copy(source, cli.cwd / name)
    started = time.monotonic()
    done = cli(
        "run",
        name,
        "--base-url",
        sb.url,
        "--rate",
        "200",
        "--report-dir",
        "o",
        *args,
        timeout=timeout,
    )
    return done, time.monotonic() - started


def assert_refused(
    cli: Cli,
    sb: Sandbox,
    done: subprocess.CompletedProcess[str],
    took: float,
    name: str,
    words: str,
) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"offboard: {name}") and done.stderr.count("\n") == 1, done.stderr
    assert words in done.stderr, done.stderr
    assert took < QUICK
    assert sb.requests() == []
    assert not (cli.cwd / "o").exists()


def assert_never_sent(sb: Sandbox, rows: list[dict[str, str]]) -> None:
    """No DELETE names an invalid row: every revoke sent is for a row that was usable."""
    usable = {
        (int(r["account"]), int(r["user_id"]))
        for r in rows
        if r["outcome"] != "invalid" and r["user_id"]
    }
    assert set(revokes_sent(sb.requests())) <= usable
    assert all(not r["user_id"] for r in rows if r["outcome"] == "invalid")


# -- refused whole: exit 2 ------------------------------------------------------------------------

REFUSED = [
    ("binary.csv", "line 1: not UTF-8 text"),  # a PNG header and every byte value
    ("latin1.csv", "line 2: not UTF-8 text"),  # José Müller saved as latin-1
    ("utf16-bom.csv", "line 1: not UTF-8 text"),  # Excel's "Unicode text"
    ("utf16le-no-bom.csv", "line 1: contains NUL bytes"),
    ("nul-in-middle.csv", "line 3: contains NUL bytes"),
    ("semicolon.csv", "semicolon-separated"),  # a European-locale export
    ("unterminated-quote.csv", "not valid CSV"),
    ("python-tag.yaml", "not valid YAML"),  # !!python/object/apply:os.system
    ("python-tag-job.yaml", "not valid YAML"),  # ... as a job file's name:
    ("python-name.yaml", "not valid YAML"),  # !!python/name:os.system
    ("billion-laughs-job.yaml", "protect: each entry must be"),  # an alias bomb as protect:
]


@pytest.mark.parametrize(("name", "words"), REFUSED, ids=[n for n, _ in REFUSED])
def test_unreadable_corpus_files_are_refused(cli, sandbox, name, words):
    """Binary, wrongly encoded, semicolon-separated, broken or code-carrying files: exit 2 with
    one line naming the file and the problem, in seconds, no request, no report, no side effect."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / name)
    assert_refused(cli, sb, done, took, name, words)
    assert not (cli.cwd / "pwned").exists()  # the python tags ran nothing


def _ten_megabyte_field(directory: Path) -> str:
    (directory / "big-field.csv").write_text(
        "account,user,note\n10,101," + "x" * 10_000_000 + "\n10,102,ok\n"
    )
    return "big-field.csv"


def _ten_megabyte_quoted_field(directory: Path) -> str:
    (directory / "big-quoted.csv").write_text(
        'account,user,note\n10,101,"' + "x\n" * 5_000_000 + '"\n'
    )
    return "big-quoted.csv"


def _deeply_nested_list(directory: Path) -> str:
    (directory / "deep.yaml").write_text("[" * 1_000 + "]" * 1_000 + "\n")
    return "deep.yaml"


def _deeply_nested_mapping(directory: Path) -> str:
    (directory / "deep-map.yaml").write_text("users: " + "{a: " * 1_000 + "1" + "}" * 1_000)
    return "deep-map.yaml"


def _deeply_nested_field(directory: Path) -> str:
    (directory / "deep-field.yaml").write_text(
        "- {account: 10, user: " + "[" * 500 + "101" + "]" * 500 + "}\n"
    )
    return "deep-field.yaml"


GENERATED: list[tuple[Callable[[Path], str], str]] = [
    (_ten_megabyte_field, "line 2: not valid CSV: field larger than field limit"),
    (_ten_megabyte_quoted_field, "not valid CSV: field larger than field limit"),
    (_deeply_nested_list, "YAML nested too deeply"),
    (_deeply_nested_mapping, "YAML nested too deeply"),
    (_deeply_nested_field, "YAML nested too deeply"),
]


@pytest.mark.parametrize(("make", "words"), GENERATED, ids=[m.__name__[1:] for m, _ in GENERATED])
def test_huge_and_deep_generated_files_are_refused(cli, sandbox, make, words):
    """A 10 MB field (bare or quoted across lines) and YAML nested 500 or 1,000 deep: exit 2
    in seconds with one line, before any request."""
    sb = sandbox(HOSTILE_WORLD)
    name = make(cli.cwd)
    done, took = run_file(cli, sb, name)
    assert_refused(cli, sb, done, took, name, words)


def test_an_alias_bomb_in_a_sandbox_world_is_refused(cli, sandbox):
    """Billion laughs where the sandbox world's ids belong (--sandbox): exit 2 in seconds, the
    message describes the value without expanding it."""
    shutil.copy(HOSTILE / "billion-laughs-sandbox.yaml", cli.cwd)
    started = time.monotonic()
    done = cli("run", "billion-laughs-sandbox.yaml", "--sandbox", "--report-dir", "o", timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("offboard: billion-laughs-sandbox.yaml: sandbox: ")
    assert done.stderr.count("\n") == 1 and len(done.stderr) < 300
    assert time.monotonic() - started < QUICK


# -- run, with bad rows invalid --------------------------------------------------------------------


def test_crlf_csv_with_a_multiline_cell_runs(cli, sandbox):
    """Windows line ends, a blank line and a quoted cell spanning two lines: rows 2 and 4
    revoked, the cell carried exactly."""
    sb = sandbox(HOSTILE_WORLD)
    done, _ = run_file(cli, sb, HOSTILE / "crlf.csv")
    assert done.returncode == 0, done.stderr
    rows = results(cli.cwd / "o")
    assert [(r["row"], r["outcome"]) for r in rows] == [("2", "revoked"), ("4", "revoked")]
    lines = (cli.cwd / "o" / "results.jsonl").read_text().splitlines()
    journal = {j["row"]: j for j in map(json.loads, lines)}
    assert journal[4]["ticket"] == "multi\r\nline" and journal[2]["ticket"] == "T1"


def test_odd_ids_in_csv_are_invalid_and_never_sent(cli, sandbox):
    """Negative, zero, float, exponent, 30-digit, 2^63, hex, signed, full-width and Arabic-Indic
    digits, inner spaces, empty cells: invalid, naming the field; only the largest 64-bit ID
    and a padded ID are sent."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / "ids.csv")
    assert done.returncode == 1 and took < QUICK, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["invalid"] * 16 + ["missing", "revoked"]
    messages = [r["message"] for r in rows]
    assert messages[1].startswith("account:") and messages[0].startswith("user:")
    assert "30-digit number is larger than a 64-bit ID" in messages[7]
    assert "19-digit number is larger" in messages[8]
    assert messages[3] == "user: must be a positive integer ID, found 0"
    assert rows[16]["user_id"] == str(2**63 - 1) and rows[17]["user_id"] == "101"
    assert_never_sent(sb, rows)
    assert sorted(revokes_sent(sb.requests())) == [(10, 101), (10, 2**63 - 1)]


def test_odd_ids_in_yaml_are_invalid_and_never_sent(cli, sandbox):
    """YAML scalars of every kind where an ID belongs (negative, 0, floats, 30 digits, .inf,
    true, null, a list, a mapping, 1e3): invalid; a quoted '101' is a fine ID."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / "ids.yaml")
    assert done.returncode == 1 and took < QUICK, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["invalid"] * 11 + ["revoked"]
    assert "found a float" in rows[2]["message"] and "found a bool" in rows[6]["message"]
    assert rows[7]["message"] == "user: is empty" and "found a list" in rows[8]["message"]
    assert_never_sent(sb, rows)
    assert list(revokes_sent(sb.requests())) == [(10, 101)]


def test_odd_but_valid_emails_resolve_to_the_right_user(cli, sandbox):
    """Plus tags, upper case, a quoted local part, subdomains, IDN, an apostrophe, padding and a
    64-character local part resolve to exactly their user; impossible forms are invalid and a
    valid but unknown one is missing, with no request for either."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / "emails.csv")
    assert done.returncode == 1 and took < QUICK, done.stderr
    rows = results(cli.cwd / "o")
    got = [(r["outcome"], r["user_id"]) for r in rows]
    assert got == [
        ("revoked", "201"),
        ("revoked", "102"),
        ("revoked", "202"),
        ("revoked", "203"),
        ("revoked", "204"),
        ("revoked", "205"),
        ("revoked", "105"),
        ("revoked", "206"),
    ] + [("invalid", "")] * 4 + [("missing", "")]
    assert all(r["message"] == "user: not a valid email address" for r in rows[8:12])
    assert rows[12]["message"] == "no user has this email"
    assert_never_sent(sb, rows)
    assert sorted(u for _, u in revokes_sent(sb.requests())) == [
        102,
        105,
        201,
        202,
        203,
        204,
        205,
        206,
    ]
    assert not any(sb.has_access(10, u) for u in (102, 105, 201, 202, 203, 204, 205, 206))


def test_very_long_lines_run(cli, sandbox):
    """A row of 200,000 fields is invalid (the other rows run); a 100 KB carried cell and a
    120 KB column name are carried exactly."""
    sb = sandbox(HOSTILE_WORLD)
    cli.write(
        "wide.csv",
        "account,user,note\n10,101,"
        + ",".join(["y"] * 200_000)
        + "\n10,102,"
        + "z" * 100_000
        + "\n",
    )
    done, took = run_file(cli, sb, "wide.csv")
    assert done.returncode == 1 and took < QUICK, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["invalid", "revoked"]
    assert rows[0]["message"] == "row has 200002 fields, the header has 3"
    assert rows[1]["note"] == "z" * 100_000
    assert_never_sent(sb, rows)
    sb2 = sandbox(HOSTILE_WORLD)
    cli.write("tall.csv", "account,user," + "h" * 120_000 + "\n10,101,x\n")
    done = cli("run", "tall.csv", "--base-url", sb2.url, "--report-dir", "p")
    assert done.returncode == 0, done.stderr
    assert results(cli.cwd / "p")[0]["h" * 120_000] == "x"


def test_billion_laughs_row_list_is_invalid_rows(cli, sandbox):
    """A row list whose items are an alias bomb: each such item is an invalid row (never
    expanded), and the good row after them is revoked, in seconds."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / "billion-laughs.yaml")
    assert done.returncode == 1 and took < QUICK, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["invalid"] * 9 + ["revoked"]
    assert all(
        r["message"] == f"row {r['row']}: expected a mapping with account and user, "
        "like {account: 1000, user: alice@example.com}; got a list"
        for r in rows[:9]
    )
    assert_never_sent(sb, rows)


# -- billion laughs in a row's fields --------------------------------------------------------------

BOMB_FIELDS = HOSTILE / "billion-laughs-fields.yaml"
BOMB_OUTCOMES = ["invalid"] * 11 + ["revoked"]
# Address space for a run of the bomb file: enough for the run (the -q test below proves it),
# far too little for the gigabytes of an expansion, which then ends in MemoryError within
# seconds instead of eating the machine's memory. Few malloc arenas keep a run well under it.
MEMORY = 128 * 2**20


def run_bomb(cli: Cli, sb: Sandbox, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the bomb file through the CLI, address space capped, failing on a timeout."""
    import os

    shutil.copy(BOMB_FIELDS, cli.cwd)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    environ.update(GCORE_API_KEY=KEY, MALLOC_ARENA_MAX="2")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "offboard",
                "run",
                BOMB_FIELDS.name,
                "--base-url",
                sb.url,
                "--rate",
                "200",
                *args,
            ],
            cwd=cli.cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=QUICK,
            check=False,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY)),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"offboard {' '.join(args)} did not finish within {QUICK:g} s")
    return done, time.monotonic() - started


def test_billion_laughs_in_fields_is_invalid_rows_when_quiet(cli, sandbox):
    """An alias bomb as a carried value, an account and a user: those rows are invalid and never
    expanded (-q: no summary table), the good row is revoked, in seconds, in 128 MB."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_bomb(cli, sb, "-q", "--report-dir", "o")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert took < QUICK
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == BOMB_OUTCOMES
    assert rows[0]["message"] == "row key 'note' holds a list, not a plain value"
    assert rows[10]["user"] == "<list>"
    assert_never_sent(sb, rows)


def test_billion_laughs_in_fields_with_the_summary_table(cli, sandbox):
    """The same bomb file in the default mode (summary table on stdout) ends the same way."""
    sb = sandbox(HOSTILE_WORLD)
    done, _ = run_bomb(cli, sb, "--report-dir", "o")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert [r["outcome"] for r in results(cli.cwd / "o")] == BOMB_OUTCOMES


def test_billion_laughs_in_fields_with_verbose_logs(cli, sandbox):
    """The same bomb file with -v (a log line per settled row) ends the same way."""
    sb = sandbox(HOSTILE_WORLD)
    done, _ = run_bomb(cli, sb, "-v", "--report-dir", "o")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert [r["outcome"] for r in results(cli.cwd / "o")] == BOMB_OUTCOMES


def test_billion_laughs_in_fields_on_resume(cli, sandbox):
    """Resuming a run of the bomb file (-q) keeps its settled rows without expanding anything."""
    sb = sandbox(HOSTILE_WORLD)
    first, _ = run_bomb(cli, sb, "-q", "--report-dir", "o")
    assert first.returncode == 1, first.stderr
    again, _ = run_bomb(cli, sb, "-q", "--resume", "o")
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert [r["outcome"] for r in results(cli.cwd / "o")] == BOMB_OUTCOMES


# -- YAML 1.1 surprises ----------------------------------------------------------------------------


def test_yaml_values_pyyaml_cannot_build_are_refused(cli, sandbox):
    """A `!!int` tag on a non-number: exit 2, one line."""
    sb = sandbox(HOSTILE_WORLD)
    done, took = run_file(cli, sb, HOSTILE / "int-tag.yaml")
    assert_refused(cli, sb, done, took, "int-tag.yaml", "")


def test_a_date_that_does_not_exist_is_carried_as_text(cli, sandbox):
    """Dates are not interpreted: `2024-02-30` in a carried column is kept as written."""
    sb = sandbox(HOSTILE_WORLD)
    done, _ = run_file(cli, sb, HOSTILE / "bad-date.yaml")
    assert "Traceback" not in done.stderr and done.returncode in (0, 1), done.stderr
    assert "2024-02-30" in (cli.cwd / "o" / "results.csv").read_text()


@pytest.mark.parametrize(
    ("name", "written"), [("octal-id.yaml", "0101"), ("sexagesimal-id.yaml", "1:41")]
)
def test_yaml_1_1_number_forms_never_revoke_another_user(cli, sandbox, name, written):
    """An ID written `0101` or `1:41` is either invalid or the decimal number the person typed;
    never a DELETE for the octal (65) or base-60 (101) reading."""
    sb = sandbox(HOSTILE_WORLD)
    run_file(cli, sb, HOSTILE / name)
    (row,) = results(cli.cwd / "o")
    digits = written.replace(":", "")
    if row["outcome"] == "invalid":
        assert list(revokes_sent(sb.requests())) == []
    else:
        assert written.isdigit() and row["user_id"] == str(int(digits)), row
        assert list(revokes_sent(sb.requests())) == [(10, int(digits))]


def test_a_5000_digit_id_is_invalid_like_a_30_digit_one(cli, sandbox):
    """A user ID of 5,000 digits is an invalid row; the other row still runs."""
    sb = sandbox(HOSTILE_WORLD)
    cli.write("huge-id.csv", "account,user\n10," + "9" * 5000 + "\n10,101\n")
    done, took = run_file(cli, sb, "huge-id.csv")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    rows = results(cli.cwd / "o")
    assert [r["outcome"] for r in rows] == ["invalid", "revoked"]
    assert "larger than a 64-bit ID" in rows[0]["message"] and took < QUICK
