"""The finish without reading the journal back: the lists are written from the records the
journal's writer kept in memory (the file only past KEPT_RECORDS), and a row the read-back
found gone gets its results.jsonl line by splicing the verdict into the line already made,
byte for byte what encoding the amended record again would give."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from offboard.core.job import Job, Seams
from offboard.core.models import Mode, Outcome, Result, Row
from offboard.job import outputs
from offboard.job.run import run_one
from offboard.journal import files, writer
from offboard.journal.layout import internal
from offboard.journal.writer import Report
from offboard.report.amended import spliced_line
from offboard.report.lists import write_lists

from .conftest import KEY

GONE: dict[str, Any] = {
    "verified": True,
    "verified_at": "2026-12-07T10:00:01.000Z",
    "verify_request_id": "rid-é",
}


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "row": 2,
        "account": 10,
        "user": "101",
        "user_id": 101,
        "outcome": "revoked",
        "message": "access removed",
        "verified": None,
        "settled_at": "2026-12-07T10:00:00.000Z",
    }
    return base | fields


SPLICED: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (record(), GONE),
    (record(message='x", "verified": null, "y": {"z": 1}'), GONE),  # the mark inside a string
    (record(name="Zoë \u2028 \x00"), {**GONE, "verify_request_id": 'q"\\u'}),
    (record(ticket="T", login={"flag": "quiet"}), GONE),  # a nested object after the mark
    (record(), {"verified": None, "verified_at": "t"}),
    (record(), {"verified": False, "verified_at": "t", "extra": [1.5, {"a": None}]}),
    (record(), {"verified_at": "t"}),  # no word on `verified`: null stays
]
NOT_SPLICED: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (record(verified=True), GONE),  # not null before
    (record(verified_at="earlier"), GONE),  # a key the verdict sets already there
    (record(), {"verified": False, "outcome": "failed", "message": "m"}),
    (record(), {"verified": 1}),  # not a JSON bool
]


def dumped(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False) + "\n"


def test_a_spliced_line_is_the_amended_record_encoded_again() -> None:
    """Where the verdict can be spliced in, the line equals json.dumps of {**record,
    **verdict}; where it cannot (a nested object first, a mark not null, a key changed),
    no line is made, and the caller encodes the record again."""
    for before, verdict in SPLICED:
        assert spliced_line(dumped(before), before, verdict) == dumped({**before, **verdict})
    nested = {"login": {"verified": None}, **record()}  # a nested mark before the record's
    assert spliced_line(dumped(nested), nested, GONE) is None
    for before, verdict in NOT_SPLICED:
        assert spliced_line(dumped(before), before, verdict) is None


def rows(count: int) -> list[Result]:
    return [
        Result(
            Row(n, "10", str(100 + n), {"ticket": f"=T{n}"}),
            Outcome.REVOKED if n % 3 else Outcome.MISSING,
            10,
            100 + n,
            200,
            1,
            f"r{n}",
            "access removed",
        )
        for n in range(2, 2 + count)
    ]


def hashes(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_the_kept_records_write_the_lists_without_the_file(tmp_path: Path) -> None:
    """write_lists given the writer's kept lines and records writes every list byte for byte
    as it does reading ordered.jsonl, with the file gone (so it was not read)."""
    directory = tmp_path / "r"
    report = Report.create(directory, ["ticket"], {"command": "run"})
    report.open()
    for result in rows(6):
        report.settled(result)
        report.write(result)
    ordered = report.close()
    kept = report.kept()
    assert kept is not None and len(kept) == 6
    verdicts = {(3, 10): GONE, (4, 10): {**GONE, "verify_note": "n", "verified": None}}
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    write_lists(copy, report.header, internal(copy) / "ordered.jsonl", Mode.RUN, verdicts)
    ordered.unlink()
    write_lists(directory, report.header, ordered, Mode.RUN, verdicts, kept)
    assert hashes(directory) == hashes(copy)


def test_past_the_cap_the_records_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch longer than KEPT_RECORDS keeps none (memory stays bounded): the lists read
    ordered.jsonl, as before."""
    monkeypatch.setattr(writer, "KEPT_RECORDS", 3)
    report = Report.create(tmp_path / "r", ["ticket"], {"command": "run"})
    report.open()
    for result in rows(4):
        report.settled(result)
        report.write(result)
    report.close()
    assert report.kept() is None


@pytest.mark.parametrize("cap", [10_000, 0])
def test_a_real_run_writes_the_same_lists_as_from_its_journal(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """Through a real run and read-back (kept records, and none kept): the lists the finish
    writes are byte for byte those written again from ordered.jsonl on disk."""
    monkeypatch.setattr(writer, "KEPT_RECORDS", cap)
    sb = sandbox()
    calls: list[tuple[Path, Any]] = []
    real = write_lists

    def both(
        directory: Path, header: Any, ordered: Path, mode: Mode, verdicts: Any, kept: Any, **kw: Any
    ) -> Any:
        calls.append((directory, kept))
        copy = tmp_path / "again"
        shutil.copytree(directory, copy)
        real(copy, header, internal(copy) / ordered.name, mode, verdicts)
        return real(directory, header, ordered, mode, verdicts, kept, **kw)

    monkeypatch.setattr(outputs, "write_lists", both)
    source = tmp_path / "leavers.csv"
    source.write_text("account,user,ticket\n10,101,=A\n10,102,B\n20,101,C\n10,999,D\nx,1,E\n")
    report = tmp_path / "r"
    job = Job(str(source), base_url=sb.url, report_dir=str(report), yes=True, verbosity=-1)
    done = run_one(job, Seams(environ={"GCORE_API_KEY": KEY}))
    assert done.exit_code == 1 and "1 invalid" in done.problem, done.problem
    ((directory, kept),) = calls
    assert (kept is not None) == (cap > 0)
    made = hashes(directory)
    again = hashes(tmp_path / "again")
    lists = [k for k in made if k.endswith(".csv") and k != "people.csv"] + ["results.jsonl"]
    assert "revoked.csv" in lists and {k: made[k] for k in lists} == {k: again[k] for k in lists}
    journal = (internal(directory) / "journal.jsonl").read_text().splitlines()
    assert sum('"amend": true' in line for line in journal) == 3  # read back: 3 revoked


def run_two_rows(sandbox: Any, tmp_path: Path) -> int:
    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    job = Job(str(source), base_url=sandbox().url, report_dir=str(tmp_path / "r"), yes=True)
    return run_one(job, Seams(environ={"GCORE_API_KEY": KEY})).exit_code


def test_the_lists_are_on_disk_before_summary_json(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lists' fsyncs run on a thread beside people.csv, but when summary.json is written
    every list is fsync'd and under its own name (no temporary left)."""
    synced: list[str] = []
    real_fsync, real_write = os.fsync, files.write_private
    seen: dict[str, Any] = {}

    def fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))

    def write_private(path: Path, text: str, encoding: str = "utf-8") -> None:
        if path.name == "summary.json":
            seen["synced"] = [Path(name).name for name in synced]
            seen["files"] = sorted(p.name for p in path.parent.iterdir())
            seen["temporary"] = sorted(p.name for p in internal(path.parent).glob("*.tmp"))
        real_write(path, text, encoding)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(outputs, "write_private", write_private)
    assert run_two_rows(sandbox, tmp_path) == 0
    for name in ("results.csv.tmp", "revoked.csv.tmp", "results.jsonl.tmp", "people.csv.tmp"):
        assert name in seen["synced"], seen
    assert {"results.csv", "revoked.csv", "results.jsonl", "people.csv"} <= set(seen["files"])
    assert seen["temporary"] == [], seen


def test_a_list_whose_fsync_fails_on_its_thread_fails_the_run(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """An fsync of a list failing on the lists' thread reaches stderr as one line, exit 3,
    and no summary.json is written over lists that are not on disk."""
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        if os.readlink(f"/proc/self/fd/{descriptor}").endswith("revoked.csv.tmp"):
            raise OSError(5, "Input/output error (fsync of revoked.csv)")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    from offboard.cli.exits import run_guarded
    from offboard.cli.main import cli

    source = tmp_path / "leavers.csv"
    source.write_text("account,user\n10,101\n10,102\n")
    words = ["run", str(source), "--base-url", sandbox().url, "--report-dir", str(tmp_path / "r")]
    monkeypatch.setenv("GCORE_API_KEY", KEY)
    monkeypatch.delenv("OFFBOARD_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit:
        run_guarded(cli, [*words, "--yes", "-q"])
    err = capsys.readouterr().err
    assert exit.value.code == 3, err
    assert len(err.strip().splitlines()) == 1 and "fsync of revoked.csv" in err, err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_the_journal_encoder_writes_what_json_dumps_writes() -> None:
    """`encoded` (one encoder for every record) gives json.dumps(..., ensure_ascii=False)'s
    text for records with accents, controls, big and float numbers, NaN and nesting."""
    values: list[Any] = [
        record(name='Zoë \u2028\x00"\\', attempts=1.5, user_id=2**63 - 1),
        {"x": float("nan"), "y": float("-inf"), "z": [1, {"a": None, "b": True}], "": ""},
        "plain",
        [],
    ]
    for value in values:
        assert files.encoded(value) == json.dumps(value, ensure_ascii=False)


def test_verdicts_shared_by_rows_are_journaled_as_each_rows_own_record(tmp_path: Path) -> None:
    """Report.amend_verdicts (a verdict's part encoded once for the rows sharing it) writes,
    for each row, the JSON of {"row", "account", "user", "amend": true, **verdict}."""
    shared = {**GONE, "verify_request_id": 'a"b\u00e9'}
    given = [
        (2, 10, "101", shared),
        (3, 10, 'q"\\\u2028', shared),
        (4, 20, 7, {"verified": None, "verified_at": "t", "verify_note": "read-back: 503"}),
        (5, 20, 1.5, {}),
        (6, 10, "106", shared),
    ]
    report = Report.create(tmp_path / "r", [], {"source": "l.csv"})
    report.open()
    report.amend_verdicts(given)
    report.close()
    text = (internal(tmp_path / "r") / "journal.jsonl").read_text(encoding="utf-8")
    expected = "".join(
        json.dumps({"row": r, "account": a, "user": u, "amend": True, **v}, ensure_ascii=False)
        + "\n"
        for r, a, u, v in given
    )
    assert text == expected
