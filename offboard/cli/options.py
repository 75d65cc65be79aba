"""The command line's options, each defined once and applied to every command that takes it
(pip-tools' scripts/options.py does the same).

    connection   --base-url --api-key-file --rate --concurrency --max-attempts --timeout
    output       --log-format -v/--verbose -q/--quiet --metrics-file
    batch        run and plan only: SOURCE, --report-dir, --sandbox, --protect, the guards

A default is shown in the help from where it lives (core/defaults.py), but an option the person did
not give reaches the command as None: the job file's value (or GCORE_BASE_URL) must still win
over a default, and job/options.py records only what was given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.core import ParameterSource

from ..core.defaults import (
    DEFAULT_ACTIVE_DAYS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_REVOCATIONS,
    DEFAULTS,
    MAX_ACTIVE_DAYS,
)
from .exits import errors_as

Decorator = Callable[[Any], Any]  # click's option decorators are generic in the command

# Every command's (and the group's): -h as --help, and help text as wide as 100 columns.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _unless_given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """None when the value is the shown default rather than one the person gave."""
    return None if ctx.get_parameter_source(str(param.name)) is ParameterSource.DEFAULT else value


def _shown(flag: str, default: Any, **kwargs: Any) -> Decorator:
    """An option whose help shows `default` (5.0 as 5), and whose value is None unless given."""
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return click.option(flag, default=default, show_default=True, callback=_unless_given, **kwargs)


def _number(key: str, kind: type, metavar: str, help_text: str) -> Decorator:
    return _shown(
        "--" + key.replace("_", "-"), DEFAULTS[key], type=kind, metavar=metavar, help=help_text
    )


CONNECTION: list[Decorator] = [
    _shown(
        "--base-url",
        DEFAULT_BASE_URL,
        metavar="URL",
        help="API base URL (else env GCORE_BASE_URL).",
    ),
    click.option(
        "--api-key-file",
        metavar="PATH",
        help="Read the API key from this file (else env GCORE_API_KEY).",
    ),
    _number("rate", float, "R", "At most R requests per second, every request counted."),
    _number("concurrency", int, "N", "At most N requests in flight."),
    _number("max_attempts", int, "N", "Attempts per request, retries included."),
    _number("timeout", float, "SECONDS", "Per request."),
]

OUTPUT: list[Decorator] = [
    click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines on stderr: text for people, json (one object per line, "
        "and nothing but JSON on stdout).",
    ),
    click.option("-v", "--verbose", count=True, help="Log every settled row and every retry."),
    click.option("-q", "--quiet", is_flag=True, help="Only errors: no summary table, no notes."),
    click.option(
        "--metrics-file",
        metavar="PATH",
        help="Write Prometheus textfile-collector metrics here (atomically).",
    ),
]

BATCH: list[Decorator] = [
    click.argument("source"),
    click.option(
        "--report-dir",
        metavar="DIR",
        help="Where the report goes (new or empty).  [default: reports/<source>-<UTC time>/]",
    ),
    click.option(
        "--sandbox",
        is_flag=True,
        help="Use the embedded Gcore IAM simulator (the job's sandbox: world).",
    ),
    click.option(
        "--protect",
        metavar="ID_OR_EMAIL",
        multiple=True,
        help="Never revoke this user (repeatable; adds to the job's protect:).",
    ),
    click.option(
        "--everywhere",
        is_flag=True,
        help="Treat every row as account * : revoke each user from every account the user "
        "list shows for them (the job key `everywhere: true`).",
    ),
    _shown(
        "--max-revocations",
        DEFAULT_MAX_REVOCATIONS,
        type=click.IntRange(min=0),
        metavar="N",
        help="Refuse the whole batch above N revocations.",
    ),
    _number(
        "max_consecutive_failures",
        int,
        "N",
        "Abort (exit 3, resumable) after N rows in a row failed on 5xx or network errors.",
    ),
    _shown(
        "--active-days",
        DEFAULT_ACTIVE_DAYS,
        type=click.IntRange(0, MAX_ACTIVE_DAYS),
        metavar="N",
        help="Warn about leavers without a leave_date who signed in within the "
        "last N days (0: never).",
    ),
]


def apply(*groups: Sequence[Decorator]) -> Decorator:
    """Apply the options of `groups` to a command, listed in the help in the order given."""
    options = [option for group in groups for option in group]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):  # decorators apply bottom-up
            command = option(command)
        return command

    return decorate


def no_dry_run(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`run --dry-run`: say which command does that, instead of "no such option"."""
    if value:
        raise click.UsageError(
            "run has no --dry-run: use `offboard plan` (it checks every row "
            "against the API and revokes nothing)",
            ctx,
        )


DRY_RUN = click.option(
    "--dry-run", is_flag=True, hidden=True, expose_value=False, is_eager=True, callback=no_dry_run
)

# run and restore both ask before sending on a terminal; --yes answers for the person.
YES = click.option("--yes", is_flag=True, help="No confirmation prompt on a terminal.")


def output_settings(options: dict[str, Any]) -> tuple[int, str]:
    """-v/-q as one verbosity (-1 quiet), and the invocation's run ID; errors from now on are
    printed in the chosen --log-format."""
    verbose, quiet = options.pop("verbose"), options.pop("quiet")
    if verbose and quiet:
        raise click.UsageError("-v and -q contradict each other: choose one")
    run_id = os.urandom(6).hex()  # 12 random hex digits, as uuid4().hex[:12] gave
    errors_as(options["log_format"], run_id)
    return (-1 if quiet else verbose), run_id
