"""`offboard run` and `offboard plan`: the two commands that take a batch (SOURCE), turned into
a Job and handed to cli/invocation.py, imported only when the command runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..core.defaults import NUMBERS
from .options import BATCH, CONNECTION, CONTEXT, DRY_RUN, OUTPUT, YES, apply, output_settings

if TYPE_CHECKING:
    from ..core.job import Job


@click.command(
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


@click.command(
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
    verbosity, run_id = output_settings(options)
    return Job(source, Mode(mode), numbers, verbosity=verbosity, run_id=run_id, **options, **extra)
