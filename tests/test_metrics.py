"""offboard.report.metrics: the textfile node_exporter reads, read back with Prometheus'
own parser."""

import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from offboard.report.metrics import JobMetrics, write_metrics

NOW = 1_700_000_000.0
LAST_SUCCESS = "offboard_last_success_timestamp_seconds"
LAST_RUN = "offboard_last_run_timestamp_seconds"


def read(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of the file, parsed by prometheus_client."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for s in family.samples
    }


def done(job: str = "leavers", **changes: Any) -> JobMetrics:
    finished = JobMetrics(
        job=job,
        counts={"revoked": 2, "missing": 1},
        open_rows=0,
        exit_code=0,
        duration=1.5,
        users_deleted=1,
        requests={"200": 3, "429": 1},
        retries=1,
    )
    return replace(finished, **changes)


def refused(job: str = "broken") -> JobMetrics:
    return JobMetrics(job=job, counts={}, open_rows=None, exit_code=2, duration=0.01)


def test_two_jobs_each_have_their_own_labelled_series_and_totals(tmp_path):
    """Two jobs of a folder run: both jobs' series present under their own `job` label, summed."""
    path = tmp_path / "m.prom"
    other = done(
        "hr-2291",
        counts={"revoked": 1, "forbidden": 2},
        open_rows=2,
        exit_code=1,
        requests={"200": 1, "403": 2},
        retries=0,
    )
    write_metrics(path, [done(), other], exit_code=1, nothing_open=False, now=NOW)
    m = read(path)
    assert m[("offboard_rows", (("job", "leavers"), ("outcome", "revoked")))] == 2
    assert m[("offboard_rows", (("job", "hr-2291"), ("outcome", "forbidden")))] == 2
    assert m[("offboard_rows_open", (("job", "leavers"),))] == 0
    assert m[("offboard_rows_open", (("job", "hr-2291"),))] == 2
    assert m[("offboard_job_exit_code", (("job", "hr-2291"),))] == 1
    assert m[("offboard_job_duration_seconds", (("job", "leavers"),))] == 1.5
    assert m[("offboard_users_deleted", (("job", "leavers"),))] == 1
    assert m[("offboard_requests", (("job", "leavers"), ("status", "429")))] == 1
    assert m[("offboard_requests", (("job", "hr-2291"), ("status", "403")))] == 2
    assert m[("offboard_retries", (("job", "hr-2291"),))] == 0
    assert m[("offboard_batch_rows", (("outcome", "revoked"),))] == 3
    assert m[("offboard_batch_rows", (("outcome", "forbidden"),))] == 2
    assert m[("offboard_batch_rows_open", ())] == 2
    assert m[("offboard_exit_code", ())] == 1
    assert m[("offboard_jobs", ())] == 2


def test_refused_job_has_its_exit_code_and_no_rows_open_sample(tmp_path):
    """A job refused before its rows were read: exit code 2 present, no rows or rows_open sample."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done(), refused()], exit_code=2, nothing_open=False, now=NOW)
    m = read(path)
    assert m[("offboard_job_exit_code", (("job", "broken"),))] == 2
    assert ("offboard_rows_open", (("job", "broken"),)) not in m
    assert not [key for key in m if key[0] == "offboard_rows" and ("job", "broken") in key[1]]
    assert m[("offboard_rows_open", (("job", "leavers"),))] == 0
    assert m[("offboard_batch_rows_open", ())] == 0
    assert m[("offboard_exit_code", ())] == 2


def test_every_series_has_help_and_is_a_gauge(tmp_path):
    """Every family written carries a HELP text and the gauge type."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW)
    families = list(text_string_to_metric_families(path.read_text(encoding="utf-8")))
    assert {f.name for f in families} == {
        f"offboard_{name}"
        for name in (
            "rows",
            "rows_open",
            "job_exit_code",
            "job_duration_seconds",
            "users_deleted",
            "requests",
            "retries",
            "logins_after_leaving",
            "batch_rows",
            "batch_rows_open",
            "batch_logins_after_leaving",
            "exit_code",
            "jobs",
            "files_not_run",
            "last_run_timestamp_seconds",
            "last_success_timestamp_seconds",
        )
    }
    assert all(f.type == "gauge" and f.documentation for f in families)


def test_last_success_is_now_when_nothing_is_open(tmp_path):
    """nothing_open=True: last_success is this run's `now`, even over an older value."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW - 500)
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW)
    assert read(path)[(LAST_SUCCESS, ())] == NOW


def test_last_success_is_carried_over_from_the_previous_file(tmp_path):
    """nothing_open=False: last_success keeps the previous file's value, over several runs."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW)
    write_metrics(
        path, [done(open_rows=1, exit_code=1)], exit_code=1, nothing_open=False, now=NOW + 60
    )
    write_metrics(path, [refused("leavers")], exit_code=2, nothing_open=False, now=NOW + 120)
    assert read(path)[(LAST_SUCCESS, ())] == NOW


def test_last_success_is_absent_on_a_first_write_with_rows_open(tmp_path):
    """No previous file and rows still open: no last_success sample (the family has none)."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done(open_rows=1, exit_code=1)], exit_code=1, nothing_open=False, now=NOW)
    assert not [key for key in read(path) if key[0] == LAST_SUCCESS]


@pytest.mark.parametrize(
    "previous",
    [
        b"not {{ prometheus",
        b"\xff\xfe\x00garbage",
        b'offboard_last_success_timestamp_seconds{job="l"} 5\n',
    ],
)
def test_garbled_or_foreign_previous_file_counts_as_no_previous_success(tmp_path, previous):
    """A garbled, non-UTF-8 or old-format (labelled) previous file is tolerated: no carry-over."""
    path = tmp_path / "m.prom"
    path.write_bytes(previous)
    write_metrics(path, [done(open_rows=1)], exit_code=1, nothing_open=False, now=NOW)
    m = read(path)
    assert m[(LAST_RUN, ())] == NOW
    assert not [key for key in m if key[0] == LAST_SUCCESS]


def test_last_run_is_always_this_run(tmp_path):
    """last_run is `now` on every write: success, rows open, refused, and no jobs at all."""
    path = tmp_path / "m.prom"
    runs = [
        ([done()], 0, True),
        ([done(open_rows=1)], 1, False),
        ([refused()], 2, False),
        ([], 0, True),
    ]
    for step, (jobs, code, nothing_open) in enumerate(runs):
        write_metrics(path, jobs, exit_code=code, nothing_open=nothing_open, now=NOW + step)
        m = read(path)
        assert m[(LAST_RUN, ())] == NOW + step
        assert m[("offboard_jobs", ())] == len(jobs)


def test_files_not_run_has_a_sample_per_reason_and_none_when_empty(tmp_path):
    """files_not_run: one sample per reason given; none at all when nothing was left out."""
    path = tmp_path / "m.prom"
    write_metrics(
        path,
        [done()],
        exit_code=0,
        nothing_open=True,
        now=NOW,
        files_not_run={"not_a_job_file": 2, "unreadable": 1},
    )
    m = read(path)
    assert m[("offboard_files_not_run", (("reason", "not_a_job_file"),))] == 2
    assert m[("offboard_files_not_run", (("reason", "unreadable"),))] == 1
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW, files_not_run={})
    assert not [key for key in read(path) if key[0] == "offboard_files_not_run"]


def test_file_is_mode_0644_under_a_strict_umask_and_no_temp_file_remains(tmp_path):
    """Written under umask 077, the file is still 0644 (rewrites too) and only it is left."""
    path = tmp_path / "m.prom"
    old = os.umask(0o077)
    try:
        write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)
        write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW + 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["m.prom"]


def test_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path, monkeypatch):
    """If the final rename fails, the old file is untouched and no staging file is left behind."""
    path = tmp_path / "m.prom"
    write_metrics(path, [done()], exit_code=0, nothing_open=True, now=NOW)
    before = path.read_bytes()

    def refuse(src, dst):
        raise OSError("disk says no")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk says no"):
        write_metrics(path, [done()], exit_code=1, nothing_open=False, now=NOW + 1)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.prom"]


def test_job_names_with_quotes_backslashes_and_newlines_round_trip(tmp_path):
    """Label values with `"`, `\\` and newlines are escaped and parse back to the same job names."""
    path = tmp_path / "m.prom"
    names = ['say "hi"', "C:\\jobs\\x", "two\nlines", 'all \\ " \n of them', "naïve ü"]
    write_metrics(path, [done(name) for name in names], exit_code=0, nothing_open=True, now=NOW)
    m = read(path)
    assert {dict(labels)["job"] for name, labels in m if name == "offboard_job_exit_code"} == set(
        names
    )
    for name in names:
        assert m[("offboard_rows", (("job", name), ("outcome", "revoked")))] == 2


def test_duplicate_job_names_are_refused(tmp_path):
    """Two jobs with one name would overwrite each other's series: refused, nothing written."""
    path = tmp_path / "m.prom"
    with pytest.raises(ValueError, match="unique"):
        write_metrics(path, [done("a"), refused("a")], exit_code=2, nothing_open=False, now=NOW)
    assert not path.exists()


def test_importing_offboard_metrics_does_not_import_prometheus_client():
    """prometheus_client is imported only when a metrics file is written."""
    code = "import sys, offboard.report.metrics; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("x" * 300 + ".csv", "cannot read: File name too long"),  # refused deciding if a folder
        ("l.csv", "no API key"),  # refused by the job itself, before anything is sent
    ],
)
def test_a_refused_source_still_rewrites_the_metrics_file(tmp_path, monkeypatch, source, words):
    """invocation.run: a SOURCE refused before or inside its job leaves a metrics file with
    its exit code (2) and no last success, and the error still reaches the caller."""
    from offboard.cli.invocation import run
    from offboard.core.errors import OffboardError
    from offboard.core.job import Job, Seams

    monkeypatch.chdir(tmp_path)
    (tmp_path / "l.csv").write_text("account,user\n10,101\n", encoding="utf-8")
    metrics = tmp_path / "m.prom"
    with pytest.raises(OffboardError, match=words) as refusal:
        run(Job(source, metrics_file=str(metrics)), Seams(environ={}))
    assert refusal.value.exit_code == 2
    samples = read(metrics)
    assert samples[("offboard_job_exit_code", (("job", Path(source).stem),))] == 2
    assert (LAST_SUCCESS, ()) not in samples
