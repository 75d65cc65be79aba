"""Paths offboard may not enter or read (issue 19, item 4): every OSError on a path a person
names is one line naming the path and the OS's reason, exit 2, nothing sent.

The tests run as root, whom mode 000 does not stop; the CLI is therefore run under
`setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped (root without them is held
to the mode bits like anyone). The functions are also tested with an injected OSError.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from offboard.core.errors import Refused, SettingsError, SourceError
from offboard.core.settings import read_api_key
from offboard.journal.layout import check_dir
from offboard.journal.reader import read_previous

from .conftest import KEY

DROP = "-dac_override,-dac_read_search"
SETPRIV = ["setpriv", f"--inh-caps={DROP}", f"--bounding-set={DROP}"]
ROWS = "account,user\n10,105\n"


def _setpriv_works(tmp: Path) -> str:
    """Why the unprivileged tests cannot run here ('' when they can)."""
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    locked = tmp / "probe"
    locked.write_text("x")
    locked.chmod(0)
    done = subprocess.run([*SETPRIV, "cat", str(locked)], capture_output=True, check=False)
    if done.returncode == 0:
        return "setpriv could not drop CAP_DAC_OVERRIDE here (mode 000 is still readable)"
    if b"Permission denied" not in done.stderr:
        return f"setpriv does not run here: {done.stderr.decode(errors='replace').strip()}"
    return ""


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A folder `locked/` (mode 000) holding a CSV, a key, a job and a report directory;
    its mode is restored afterwards so that pytest can clean up."""
    why = _setpriv_works(tmp_path)
    if why:
        pytest.skip(why)
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "l.csv").write_text(ROWS)
    (folder / "key").write_text(KEY)
    (folder / "w.yaml").write_text("accounts: [{id: 10}]\n")
    (folder / "r").mkdir()
    folder.chmod(0)
    yield folder
    folder.chmod(0o700)


Unprivileged = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def unprivileged(tmp_path: Path) -> Unprivileged:
    """Runs `python -m offboard` in tmp_path as root without the DAC-override capabilities."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GCORE_") and k != "OFFBOARD_DEBUG"
        }
        environ["GCORE_API_KEY"] = KEY
        return subprocess.run(
            [*SETPRIV, sys.executable, "-m", "offboard", *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def _one_line(done: subprocess.CompletedProcess[str], path: str) -> str:
    """The single stderr line of a refused run, checked: exit 2, names path and reason."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert path in lines[0] and "Permission denied" in lines[0], lines[0]
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    return lines[0]


CASES = {
    "source": (["run", "locked/l.csv"], "locked/l.csv"),
    "source_plan": (["plan", "locked/l.csv"], "locked/l.csv"),
    "input": (["run", "job.yaml"], "locked/l.csv"),
    "report_dir": (["run", "l.csv", "--report-dir", "locked/r"], "locked/r"),
    "report_dir_inside": (["run", "l.csv", "--report-dir", "locked/r/new"], "locked/r/new"),
    "metrics_file": (["run", "l.csv", "--metrics-file", "locked/m.prom"], "locked/m.prom"),
    "api_key_file": (["run", "l.csv", "--api-key-file", "locked/key"], "locked/key"),
    "resume_dir": (["run", "l.csv", "--resume", "locked/r"], "locked/r"),
    "sandbox_world": (["run", "locked/w.yaml", "--sandbox"], "locked/w.yaml"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unreadable_path_is_one_line_exit_2_and_nothing_sent(
    locked, unprivileged, sandbox, case
):
    """Each kind of path offboard reads or writes, behind a mode-000 folder: one stderr line
    naming the path and the OS's reason, exit 2, no request reaches the API."""
    (locked.parent / "l.csv").write_text(ROWS)
    (locked.parent / "job.yaml").write_text("input: locked/l.csv\n")
    sb = sandbox()
    args, path = CASES[case]
    url = [] if "--sandbox" in args else ["--base-url", sb.url]
    _one_line(unprivileged(*args, *url), path)
    assert sb.requests() == []


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_folder_with_an_unreadable_job_exits_2_for_run_and_plan(
    locked, unprivileged, sandbox, command
):
    """`plan DIR` exits as `run DIR` does (2) when a job file cannot be read: one line names
    the file and the reason; nothing is sent."""
    jobs = locked.parent / "jobs"
    jobs.mkdir()
    (jobs / "c.csv").write_text(ROWS)
    (jobs / "c.csv").chmod(0)
    sb = sandbox()
    done = unprivileged(command, "jobs", "--base-url", sb.url, "-q")
    _one_line(done, "jobs/c.csv")
    assert sb.requests() == []


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_jobs_folder_that_cannot_be_entered_is_one_line(locked, unprivileged, sandbox, command):
    """`run DIR` / `plan DIR` on a folder at mode 000: one line naming it, exit 2."""
    jobs = locked.parent / "jobs"
    jobs.mkdir()
    (jobs / "a.csv").write_text(ROWS)
    jobs.chmod(0)
    sb = sandbox()
    try:
        _one_line(unprivileged(command, "jobs", "--base-url", sb.url), "jobs")
    finally:
        jobs.chmod(0o700)
    assert sb.requests() == []


def test_an_unreadable_sandbox_scenario_is_one_line(locked, unprivileged):
    """`offboard sandbox --scenario locked/w.yaml`: one line, the path and the reason, exit 2."""
    _one_line(
        unprivileged("sandbox", "--port", "0", "--scenario", "locked/w.yaml"), "locked/w.yaml"
    )


# -- the same functions, with the failure injected -----------------------------------------


def _raise(exc: OSError) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        raise exc

    return fail


def test_report_dir_check_names_the_path_and_reason(tmp_path, monkeypatch):
    """check_dir turns an OSError on the directory (stat or listing) into one line."""
    chosen = tmp_path / "r"
    chosen.mkdir()
    (chosen / "x").write_text("")
    monkeypatch.setattr(Path, "iterdir", _raise(PermissionError(13, "Permission denied")))
    with pytest.raises(SettingsError, match=r"r: Permission denied$"):
        check_dir(chosen, True)
    monkeypatch.setattr(Path, "exists", _raise(PermissionError(13, "Permission denied")))
    with pytest.raises(SettingsError, match=r"report directory .*r: Permission denied$"):
        check_dir(chosen, True)


def test_resume_of_an_unreadable_run_json_gives_the_reason_not_a_class_name(tmp_path, monkeypatch):
    """read_previous: a run.json that cannot be read is the path and strerror, exit 2."""
    inside = tmp_path / "r" / ".offboard"
    inside.mkdir(parents=True)
    (inside / "run.json").write_text("{}")
    monkeypatch.setattr(Path, "read_text", _raise(IsADirectoryError(21, "Is a directory")))
    with pytest.raises(Refused, match=r"run\.json: Is a directory") as caught:
        read_previous(tmp_path / "r", "0" * 64)
    assert "IsADirectoryError" not in str(caught.value)


def test_metrics_file_check_refuses_what_the_end_of_the_run_could_not_write(tmp_path):
    """check_writable: a directory, a missing folder, or an unwritable one is refused (one
    line naming the path), and a writable place leaves nothing behind."""
    from offboard.report.metrics import check_writable

    with pytest.raises(SettingsError, match=r"--metrics-file .*: Is a directory"):
        check_writable(tmp_path)
    with pytest.raises(SettingsError, match=r"m\.prom: cannot write: No such file"):
        check_writable(tmp_path / "nowhere" / "m.prom")
    check_writable(tmp_path / "m.prom")
    assert list(tmp_path.iterdir()) == []


def test_api_key_file_that_is_a_directory_is_one_line(tmp_path):
    """read_api_key on a directory: the path and strerror, never the key."""
    with pytest.raises(SettingsError, match=r"--api-key-file .*: Is a directory"):
        read_api_key(str(tmp_path), {})


def test_a_source_behind_a_folder_that_cannot_be_searched_is_a_source_error(monkeypatch):
    """invocation.run: an OSError deciding whether SOURCE is a folder is a SourceError (2)."""
    from offboard.cli.invocation import run
    from offboard.core.job import Job, Seams

    monkeypatch.setattr(Path, "is_dir", _raise(PermissionError(13, "Permission denied")))
    with pytest.raises(SourceError, match=r"^locked/l\.csv: cannot read: Permission denied$"):
        run(Job("locked/l.csv"), Seams(environ={}))
