"""source: reading CSV, YAML row lists and job files; unreadable SOURCEs refused."""

import io
from collections.abc import Callable

import pytest

from offboard.core.errors import SourceError
from offboard.core.models import Row
from offboard.plan.rows import parse
from offboard.source.read import CsvRows, parse_csv, read_source


def rows_of(text: str | bytes) -> tuple[list[Row], list[str]]:
    data = text.encode() if isinstance(text, str) else text
    return parse_csv(data, "t.csv")


def test_aliases_bom_blank_lines_and_editor_line_numbers():
    """A BOM, alias headers and blank lines: row numbers are the lines an editor shows."""
    rows, columns = rows_of("\ufeffClientId , EMAIL,ticket\n\n1000,a@x.io,HR-1\n\n2000,7,HR-2\n")
    assert [(r.number, r.account, r.user, r.extra) for r in rows] == [
        (3, "1000", "a@x.io", {"ticket": "HR-1"}),
        (5, "2000", "7", {"ticket": "HR-2"}),
    ]
    assert columns == ["ticket"]


def test_quoted_multiline_field_keeps_later_line_numbers_right():
    """A quoted cell over two lines: the next row's number is still its first line."""
    rows, _ = rows_of('account,user,note\n1,2,"two\nlines"\n3,4,x\n')
    assert [r.number for r in rows] == [2, 4]


def test_crlf_line_endings():
    """Windows line endings read the same."""
    rows, _ = rows_of("account,user\r\n1,2\r\n3,4\r\n")
    assert [(r.account, r.user) for r in rows] == [("1", "2"), ("3", "4")]


def test_short_and_long_rows():
    """Missing trailing cells are empty; extra cells make the row invalid, not lost."""
    rows, _ = rows_of("account,user,ticket\n1,2\n3,4,T,extra\n")
    assert rows[0].extra == {"ticket": ""} and not rows[0].problem
    assert "4 fields" in rows[1].problem


def test_header_only_is_an_empty_batch():
    """A header with no rows is a batch with nothing to do."""
    assert rows_of("account,user\n") == ([], [])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\n\n", "no header"),
        (b"name,ticket\nx,y\n", "no 'account' column"),
        (b"account;user\n1;2\n", "semicolon"),
        (b"account,user,email\n1,2,a@b.c\n", "both name the user"),
        (b"account,user,t,t\n1,2,3,4\n", "appears twice"),
        ("account,user\n1,Jos\u00e9\n".encode("latin-1"), "line 2: not UTF-8"),
        ("account,user\n1,2\n".encode("utf-16"), "not UTF-8"),
        ("account,user\n1,2\n".encode("utf-16-le"), "NUL"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b'account,user\n1,"unterminated\n', "not valid CSV"),
    ],
)
def test_unreadable_csv_is_refused_with_one_line(data, words):
    """Each unreadable CSV gives a one-line SourceError naming the problem."""
    with pytest.raises(SourceError) as caught:
        rows_of(data)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_missing_file_directory_and_suffix(tmp_path):
    """Missing file, a directory, and an unknown suffix are refused."""
    (tmp_path / "x.txt").write_text("account,user\n")
    for source, words in [
        (tmp_path / "no.csv", "no such file"),
        (tmp_path, "directory"),
        (tmp_path / "x.txt", "not a .csv"),
    ]:
        with pytest.raises(SourceError, match=words):
            read_source(str(source))


def test_stdin_is_csv():
    """`-` reads CSV from stdin."""
    batch = read_source("-", io.BytesIO(b"account,user\n1,2\n"))
    assert (batch.name, batch.row_count, len(list(batch.rows))) == ("stdin", 1, 1)


def test_yaml_row_list_numbers_positions_and_carries_keys(tmp_path):
    """A YAML list: rows numbered 1.., extra keys carried, non-mappings kept as problems."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "- {account: 1, user: 2, ticket: T-1}\n- just text\n- {account: 3, email: a@b.io}\n"
    )
    batch = read_source(str(path))
    rows = list(batch.rows)
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].extra == {"ticket": "T-1"} and batch.columns == ("ticket",)
    assert "expected a mapping with account and user" in rows[1].problem
    assert rows[2].user == "a@b.io"


def test_job_file_with_users_input_and_settings(tmp_path):
    """A job file: inline users first, then the CSV relative to the job, and its settings."""
    (tmp_path / "leavers.csv").write_text("account,user\n5,6\n")
    job = tmp_path / "job.yaml"
    job.write_text("name: HR 2291\nrate: 2\nusers: [{account: 1, user: 2}]\ninput: leavers.csv\n")
    batch = read_source(str(job))
    assert [(r.account, r.user) for r in batch.rows] == [(1, 2), ("5", "6")]
    assert batch.settings == {"name": "HR 2291", "rate": 2} and batch.name == "HR-2291"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("users: [{account: 1, user: 2}]\nrate_limit: 3\n", "unknown key 'rate_limit'"),
        ("rate: 3\n", "needs users"),
        ("users: {account: 1}\n", "must be a list"),
        ("input: nothere.csv\n", "no such file"),
        ("!!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
        ("a: [\n", "not valid YAML"),
        ("42\n", "expected a list of rows"),
        ("[" * 5000 + "]" * 5000 + "\n", "YAML"),
    ],
)
def test_bad_yaml_is_refused_with_one_line(tmp_path, text, words):
    """Unsafe tags, syntax errors, unknown keys and wrong shapes are one-line refusals."""
    path = tmp_path / "j.yaml"
    path.write_text(text)
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_yaml_alias_bomb_is_read_without_expanding(tmp_path):
    """Billion laughs: aliases stay shared references; the row is just an unusable value."""
    anchors = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    anchors += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "sandbox:\n"
        + "".join(f"  {a}\n" for a in anchors)
        + "users: [{account: 1, user: *a8, ticket: T}]\n"
    )
    batch = read_source(str(path))
    assert parse(next(iter(batch.rows))) == (
        "user: must be a positive integer ID or an email address, found a list"
    )


def counting_opener(data: bytes) -> tuple[Callable[[], io.BytesIO], list[int]]:
    """An opener of `data` for CsvRows, and the list that grows by one each time it opens."""
    opened: list[int] = []

    def opener() -> io.BytesIO:
        opened.append(1)
        return io.BytesIO(data)

    return opener, opened


def test_a_csv_that_fits_is_read_from_disk_once():
    """The check's read keeps a batch of up to `kept` rows: later passes read no bytes."""
    opener, opened = counting_opener(b"account,user,ticket\n1000,7,HR-1\n\n1000,a@x.io,HR-2\n")
    rows = CsvRows(opener, "t.csv", kept=2)
    assert rows.check() == 2
    first, second = list(rows), list(rows)
    assert len(opened) == 1
    assert (
        first
        == second
        == [
            Row(2, "1000", "7", {"ticket": "HR-1"}),
            Row(4, "1000", "a@x.io", {"ticket": "HR-2"}),
        ]
    )
    assert rows.columns == ("ticket",)


def test_a_csv_longer_than_kept_is_read_again_each_pass():
    """Past `kept` rows nothing is kept (memory does not grow with rows): each pass reads
    the file again, and gives the same rows."""
    opener, opened = counting_opener(b"account,user\n1,2\n3,4\n5,6\n")
    rows = CsvRows(opener, "t.csv", kept=2)
    assert rows.check() == 3
    assert [r.number for r in rows] == [2, 3, 4] == [r.number for r in rows]
    assert len(opened) == 3
