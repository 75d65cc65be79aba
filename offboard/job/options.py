"""The options a run was made with: recorded in run.json, reused by --resume, and printed
back in every hint so that a pasted hint runs exactly as the run that printed it.

One table (OPTIONS) says, for each option, its Job field and its flag; the
recorder, the resume check and the hints all read it, so they cannot drift.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..core.defaults import NUMBERS
from ..core.errors import SettingsError
from ..core.job import Job
from ..core.settings import Guarding, Settings

# Job field -> command-line flag; numbers live in Job.numbers under the same names.
FLAGS = {
    **{name: "--" + name.replace("_", "-") for name in NUMBERS},
    "base_url": "--base-url",
    "api_key_file": "--api-key-file",
    "sandbox": "--sandbox",
    "protect": "--protect",
    "max_revocations": "--max-revocations",
    "delete_tokens": "--delete-tokens",
    "no_verify": "--no-verify",
    "active_days": "--active-days",
    "everywhere": "--everywhere",
}


def given(job: Job) -> dict[str, Any]:
    """The options the person gave (None, False and () mean "not given")."""
    values: dict[str, Any] = {name: job.numbers.get(name) for name in NUMBERS}
    for name in FLAGS:
        if name not in NUMBERS:
            values[name] = getattr(job, name)
    values["protect"] = list(values["protect"])
    # By identity: 0 is a value given (`--active-days 0`), while `0 in (False,)` is True.
    return {
        name: value
        for name, value in values.items()
        if value is not None and value is not False and value != []
    }


def restore(job: Job, recorded: Mapping[str, Any], where: str) -> Job:
    """The resumed job: the recorded options, refusing one given now that contradicts them."""
    now = given(job)
    for name, value in now.items():
        if name in recorded and recorded[name] != value:
            raise SettingsError(
                f"--resume {where}: the run was made with {_shown(name, recorded[name])}; "
                f"drop {FLAGS[name]} or give the same value"
            )
        if name not in recorded:
            raise SettingsError(
                f"--resume {where}: the run was made without {FLAGS[name]}; "
                f"drop it (a resume reuses the run's options)"
            )
    numbers = {**job.numbers, **{n: recorded[n] for n in NUMBERS if n in recorded}}
    fields = {name: recorded[name] for name in FLAGS if name in recorded and name not in NUMBERS}
    if "protect" in fields:
        fields["protect"] = tuple(fields["protect"])
    return replace(job, numbers=numbers, **fields)


def command_line(command: str, source: str, options: Mapping[str, Any], *extra: str) -> str:
    """`offboard <command> <source> <options...>`, quoted for a POSIX shell."""
    words = ["offboard", command, source]
    for name, value in options.items():
        flag = FLAGS[name]
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join([*words, *extra])


def _shown(name: str, value: Any) -> str:
    if value is True:
        return FLAGS[name]
    return f"{FLAGS[name]} {value}"


def plan_options(job: Job) -> dict[str, Any]:
    """The plan's own options that a run of it needs (where, with which key, the cap)."""
    return {
        k: v
        for k, v in given(job).items()
        if k
        in (
            "base_url",
            "api_key_file",
            "sandbox",
            "max_revocations",
            "protect",
            "active_days",
            "rate",
            "concurrency",
            "max_attempts",
            "timeout",
            "max_consecutive_failures",
            "everywhere",  # shown for the reader: plan.json records it too
        )
    }


def summary_options(job: Job, settings: Settings, guarding: Guarding) -> dict[str, Any]:
    """The options summary.json records: each as the run used it."""
    return {
        **{
            k: getattr(settings, k)
            for k in (
                "rate",
                "concurrency",
                "max_attempts",
                "timeout",
                "max_consecutive_failures",
                "base_url",
            )
        },
        "sandbox": job.sandbox,
        "max_revocations": guarding.max_revocations,
        "active_days": guarding.active_days,
        "delete_tokens": guarding.delete_tokens,
        "protect": [
            *sorted(map(str, guarding.protection.ids)),
            *sorted(guarding.protection.emails),
        ],
        "yes": job.yes,
        "resume": job.resume,
    }
