"""`offboard restore` and `offboard sandbox`: the commands that take no batch; each imports its
work (restore/, the sandbox) only when it runs."""

from __future__ import annotations

from typing import Any

import click

from ..core.defaults import DEFAULT_MAX_RESTORES, NUMBERS
from .options import CONNECTION, CONTEXT, OUTPUT, YES, apply, output_settings


@click.command(
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
    verbosity, run_id = output_settings(options)
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


@click.command(
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
