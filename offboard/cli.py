"""The command line: turns options into a Job and calls it; nothing else lives here."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from . import __version__
from .errors import OffboardError
from .run import Job, run

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="offboard")
def cli() -> None:
    """Revoke leavers' access to Gcore accounts, safely and fast.

    \b
    Example:
      offboard run leavers.csv               # GCORE_API_KEY set in the environment
      offboard run jobs/demo.yaml --sandbox  # try it on the embedded simulator
    """


@cli.command("run", context_settings=CONTEXT)
@click.argument("source")
@click.option("--base-url", metavar="URL",
              help="API base URL (else env GCORE_BASE_URL, else https://api.gcore.com).")
@click.option("--api-key-file", metavar="PATH",
              help="Read the API key from this file (else env GCORE_API_KEY).")
@click.option("--rate", type=float, metavar="R",
              help="At most R requests per second, every request counted.  [default: 5]")
@click.option("--concurrency", type=int, metavar="N",
              help="At most N requests in flight.  [default: 4]")
@click.option("--max-attempts", type=int, metavar="N",
              help="Attempts per request, retries included.  [default: 5]")
@click.option("--timeout", type=float, metavar="SECONDS", help="Per request.  [default: 30]")
@click.option("--report-dir", metavar="DIR",
              help="Where the report goes (new or empty).  [default: reports/<source>-<UTC time>/]")
@click.option("--sandbox", is_flag=True,
              help="Run against the embedded Gcore IAM simulator (the job's sandbox: world).")
def run_command(source: str, base_url: str | None, api_key_file: str | None,
                rate: float | None, concurrency: int | None, max_attempts: int | None,
                timeout: float | None, report_dir: str | None, sandbox: bool) -> int:
    """Revoke every (account, user) pair listed in SOURCE.

    SOURCE is a .csv file, a .yaml/.yml file (a list of rows, or a job file), or - for CSV on
    stdin. Options on the command line override the job file's settings.

    \b
    Exit codes: 0 all settled, 1 some rows need a person, 2 refused to start,
                3 aborted mid-run (the report is still complete).
    \b
    Example:
      export GCORE_API_KEY=...            # or --api-key-file /etc/offboard/key
      offboard run leavers.csv --rate 5 --report-dir reports/hr-2291
      offboard run jobs/demo.yaml --sandbox
    """
    numbers = {"rate": rate, "concurrency": concurrency, "max_attempts": max_attempts,
               "timeout": timeout}
    return run(Job(source, numbers, base_url, api_key_file, report_dir, sandbox))


@cli.command("sandbox", context_settings=CONTEXT)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--scenario", metavar="FILE",
              help="YAML world: a job file's sandbox: section, or a bare world.  "
                   "[default: the built-in demo world]")
def sandbox_command(port: int, scenario: str | None) -> int:
    """Serve the embedded Gcore IAM simulator on 127.0.0.1 until stopped (Ctrl-C).

    \b
    Example:
      offboard sandbox --port 8765 --scenario jobs/demo.yaml
      GCORE_API_KEY=<key it prints> offboard run leavers.csv --base-url http://127.0.0.1:8765
    """
    from .sandbox_cli import serve_scenario

    return serve_scenario(port, scenario)


def main() -> None:
    """Entry point: every error becomes one line on stderr and the contract's exit code."""
    try:
        code: Any = cli.main(prog_name="offboard", standalone_mode=False)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "offboard"
        _fail(f"{exc.format_message()} (see '{command} -h')", 2)
    except click.ClickException as exc:
        _fail(exc.format_message(), 2)
    except click.Abort:
        _fail("stopped", 3)
    except OffboardError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 3)
    except Exception as exc:
        if os.environ.get("OFFBOARD_DEBUG"):
            traceback.print_exc()
        _fail(f"internal error ({type(exc).__name__}); set OFFBOARD_DEBUG=1 for details", 3)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"offboard: {message}", err=True)
    sys.exit(code)
