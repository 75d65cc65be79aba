"""options: what a run records, what a resume reuses, and hints that paste as printed."""

import shlex

import pytest

from offboard.core.errors import SettingsError
from offboard.core.job import Job
from offboard.job.options import command_line, given, restore


def test_only_what_the_person_gave_is_recorded():
    job = Job(
        "l.csv",
        numbers={"rate": 20.0, "concurrency": None},
        base_url="http://x",
        max_revocations=400,
        protect=("a@x.io",),
    )
    assert given(job) == {
        "rate": 20.0,
        "base_url": "http://x",
        "max_revocations": 400,
        "protect": ["a@x.io"],
    }


def test_a_resume_reuses_the_recorded_options():
    recorded = {"rate": 20.0, "max_revocations": 400, "sandbox": True, "protect": ["7"]}
    job = restore(Job("l.csv", resume="r"), recorded, "r")
    assert job.numbers["rate"] == 20.0 and job.max_revocations == 400
    assert job.sandbox and job.protect == ("7",)
    assert restore(Job("l.csv", numbers={"rate": 20.0}), recorded, "r").numbers["rate"] == 20.0


@pytest.mark.parametrize(
    "job",
    [
        Job("l.csv", numbers={"rate": 7.0}),
        Job("l.csv", delete_tokens=True),
        Job("l.csv", base_url="http://other"),
    ],
)
def test_an_option_that_contradicts_the_run_is_refused(job):
    with pytest.raises(SettingsError, match="--resume r: the run was made"):
        restore(job, {"rate": 20.0, "base_url": "http://x"}, "r")


def test_a_hint_splits_back_into_the_same_words():
    line = command_line(
        "run",
        "my dir/plan.json",
        {"base_url": "http://127.0.0.1:1", "sandbox": True, "rate": 2.5, "protect": ["a b@x.io"]},
    )
    assert shlex.split(line) == [
        "offboard",
        "run",
        "my dir/plan.json",
        "--base-url",
        "http://127.0.0.1:1",
        "--sandbox",
        "--rate",
        "2.5",
        "--protect",
        "a b@x.io",
    ]
