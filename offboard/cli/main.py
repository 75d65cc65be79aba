"""The command line: turns options into a Job and calls it; nothing else lives here (how the
process ends on an error, one line and an exit code, is cli/exits.py's)."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..core.defaults import DEFAULT_MAX_RESTORES, NUMBERS
from .exits import errors_as, run_guarded
from .options import BATCH, CONNECTION, DRY_RUN, OUTPUT, YES, apply

if TYPE_CHECKING:
    from ..core.job import Job

# Each command imports its work when it runs (`offboard --help` would otherwise load the
# HTTP client, the event loop and the templates: three times the CPU of the help itself),
# the Job and its models included (their dataclasses and enums: about 25 ms of the help's).

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT, no_args_is_help=True)
@click.version_option(__version__, "--version", prog_name="offboard")
def cli() -> None:
    """Revoke leavers' access to Gcore accounts, safely and fast.

    \b
    Example:
      offboard run leavers.csv               # GCORE_API_KEY set in the environment
      offboard plan leavers.csv              # review first: nothing is revoked
      offboard run jobs/demo.yaml --sandbox  # try it on the embedded simulator
    """


@cli.command(
    "run",
    context_settings=CONTEXT,
    short_help="Revoke every (account, user) pair listed in SOURCE.",
)
@apply(CONNECTION, BATCH, OUTPUT)
@DRY_RUN
@click.option(
    "--delete-tokens",
    is_flag=True,
    help="Delete a token-blocked user's own live API tokens in that account, then revoke.",
)
@YES
@click.option(
    "--no-verify",
    is_flag=True,
    help="Do not read membership back after the revokes (faster; the report says "
    "the rows are unverified).",
)
@click.option(
    "--resume",
    metavar="DIR",
    help="Continue an earlier run of the same SOURCE in its report directory DIR.",
)
@click.option(
    "--new-run",
    is_flag=True,
    help="Start a new run though an earlier run of the same SOURCE did not finish.",
)
def run_command(
    source: str,
    yes: bool,
    delete_tokens: bool,
    no_verify: bool,
    resume: str | None,
    new_run: bool,
    **options: Any,
) -> int:
    """Revoke every (account, user) pair listed in SOURCE.

    SOURCE is a .csv file, a .yaml/.yml file (a list of rows, or a job file), - for CSV on
    stdin, a plan.json written by `offboard plan` (then exactly the reviewed rows are
    sent), or a folder of job files (each unfinished job runs; interrupted ones resume).
    Options on the command line override the job file's settings.

    \b
    Exit codes: 0 all settled, 1 some rows need a person, 2 refused to start,
                3 aborted mid-run (the report is still complete).
    \b
    Example:
      export GCORE_API_KEY=...            # or --api-key-file /etc/offboard/key
      offboard run leavers.csv --rate 5 --report-dir reports/hr-2291
      offboard run reports/leavers-plan-20261130T090000Z/plan.json
      offboard run leavers.csv --resume reports/leavers-20261130T020000Z
      offboard run /srv/offboard/jobs/ --log-format json --metrics-file /var/lib/node/offboard.prom
      offboard run jobs/demo.yaml --sandbox
    """
    from .invocation import run

    if resume is not None and options["report_dir"] is not None:
        raise click.UsageError("--resume DIR writes into DIR: drop --report-dir")
    return run(
        _job(
            "run",
            source,
            options,
            yes=yes,
            delete_tokens=delete_tokens,
            no_verify=no_verify,
            resume=resume,
            new_run=new_run,
        )
    )


@cli.command(
    "plan",
    context_settings=CONTEXT,
    short_help="Check every row of SOURCE against the API; revoke nothing.",
)
@apply(CONNECTION, BATCH, OUTPUT)
def plan_command(source: str, **options: Any) -> int:
    """Check every row of SOURCE against the API and revoke nothing.

    Resolves emails, checks each user is in the account, lists live API tokens that would
    block the revoke, and says whose last account it is (Gcore then deletes the user). Writes
    the same report as `run`, plus plan.json: `offboard run PLAN.json` then sends exactly
    the rows reviewed, and refuses if SOURCE changed or the plan is over 24 hours old.

    \b
    Example:
      offboard plan leavers.csv
      offboard run reports/leavers-plan-20261130T090000Z/plan.json
    """
    from .invocation import run

    return run(_job("plan", source, options))


def _job(mode: str, source: str, options: dict[str, Any], **extra: Any) -> Job:
    from ..core.job import Job
    from ..core.models import Mode

    numbers = {key: options.pop(key) for key in NUMBERS}
    options["protect"] = tuple(options["protect"])
    verbosity, run_id = _output(options)
    return Job(source, Mode(mode), numbers, verbosity=verbosity, run_id=run_id, **options, **extra)


@cli.command(
    "sandbox",
    context_settings=CONTEXT,
    short_help="Serve the embedded Gcore IAM simulator on 127.0.0.1.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--scenario",
    metavar="FILE",
    help="YAML world: a job file's sandbox: section, or a bare world.  "
    "[default: the built-in demo world]",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    metavar="SPEC",
    help="Server limiter instead of the world's faults.rate_limit: N (a sliding "
    "1 s window of N) or SHAPE:KEY=VALUE,..., e.g. token_bucket:rate=20,burst=5, "
    "fixed_window:rate=50, sliding_window:rate=20, gcra:rate=20,tolerance=0.1, "
    "changing:schedule=0:20/10:5/30:20.",
)
def sandbox_command(port: int, scenario: str | None, rate_limit: str | None) -> int:
    """Serve the embedded Gcore IAM simulator on 127.0.0.1 until stopped (Ctrl-C).

    \b
    Example:
      offboard sandbox --port 8765 --scenario jobs/demo.yaml
      GCORE_API_KEY=<key it prints> offboard run leavers.csv --base-url http://127.0.0.1:8765
    """
    from .serve_sandbox import serve_scenario

    return serve_scenario(port, scenario, rate_limit)


@cli.command(
    "restore",
    context_settings=CONTEXT,
    short_help="Give back the access a run removed, with the same role.",
)
@click.argument("report", metavar="REPORT_DIR")
@click.option(
    "--row",
    "rows",
    type=int,
    multiple=True,
    metavar="N",
    help="Only this row of the run (repeatable).  [default: every revoked row]",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="ID_OR_EMAIL",
    help="Only this user's rows (repeatable).",
)
@click.option(
    "--account",
    "accounts",
    type=int,
    multiple=True,
    metavar="ID",
    help="Only rows of this account (repeatable).",
)
@click.option(
    "--plan", is_flag=True, help="Say what would be restored (reads only) and write that report."
)
@YES
@click.option(
    "--max-restores",
    type=click.IntRange(min=0),
    metavar="N",
    default=DEFAULT_MAX_RESTORES,
    show_default=True,
    help="Refuse the whole restore above N invites.",
)
@click.option("--resume", metavar="DIR", help="Continue an earlier restore in its report DIR.")
@click.option(
    "--report-dir",
    metavar="DIR",
    help="Where the restore's report goes.  [default: REPORT_DIR-restore-<UTC time>/]",
)
@apply(CONNECTION, OUTPUT)
def restore_command(
    report: str,
    rows: tuple[int, ...],
    users: tuple[str, ...],
    accounts: tuple[int, ...],
    plan: bool,
    yes: bool,
    max_restores: int,
    resume: str | None,
    **options: Any,
) -> int:
    """Give back, with the same role, the access a run removed (POST /iam/clients/invite_user).

    REPORT_DIR is the report directory of a finished `offboard run`. Users the run deleted
    (their last account) get a fresh invitation and a new user ID; API tokens it deleted
    cannot come back (tokens_gone.csv lists them). A user who is a member again already is
    left alone. Writes its own report. The base URL must be the run's.

    \b
    Exit codes: 0 every chosen row back, 1 some need a person, 2 refused, 3 aborted.
    \b
    Example:
      offboard restore reports/leavers-20261130T090000Z --user ann@acme.example --plan
      offboard restore reports/leavers-20261130T090000Z --user ann@acme.example
      offboard restore reports/leavers-20261130T090000Z --metrics-file /var/lib/node/restore.prom
    """
    from ..restore.command import Request, restore

    numbers = {key: options.pop(key) for key in NUMBERS if key in options}
    verbosity, run_id = _output(options)
    return restore(
        Request(
            report,
            rows,
            users,
            accounts,
            plan,
            yes,
            resume,
            options.pop("report_dir"),
            options.pop("base_url"),
            options.pop("api_key_file"),
            max_restores,
            {k: v for k, v in numbers.items() if v is not None},
            log_format=options["log_format"],
            verbosity=verbosity,
            run_id=run_id,
            metrics_file=options["metrics_file"],
        )
    )


def _output(options: dict[str, Any]) -> tuple[int, str]:
    """-v/-q as one verbosity (-1 quiet), and the invocation's run ID; errors from now on are
    printed in the chosen --log-format."""
    verbose, quiet = options.pop("verbose"), options.pop("quiet")
    if verbose and quiet:
        raise click.UsageError("-v and -q contradict each other: choose one")
    run_id = os.urandom(6).hex()  # 12 random hex digits, as uuid4().hex[:12] gave
    errors_as(options["log_format"], run_id)
    return (-1 if quiet else verbose), run_id


def main() -> None:
    """Entry point: every error becomes one line on stderr and the contract's exit code."""
    # At exit the interpreter's last garbage collection walks every object still alive (the
    # modules, the user list) for memory the OS takes back anyway: about 0.1 s of CPU a run
    # here. gc.freeze() puts them out of its reach; registered first, it runs after every
    # other exit handler, and every file the run writes is closed by then.
    atexit.register(gc.freeze)
    run_guarded(cli, sys.argv[1:])
