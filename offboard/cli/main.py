"""The command line: the `offboard` group and its entry point. The commands turn options into
settings and call the work: run and plan in cli/batch.py, restore and sandbox in cli/other.py;
how the process ends on an error (one line and an exit code) is cli/exits.py's."""

from __future__ import annotations

import atexit
import gc
import sys

import click

from .. import __version__
from .batch import plan_command, run_command
from .exits import run_guarded
from .options import CONTEXT
from .other import restore_command, sandbox_command

YOUNG = 20_000  # new objects between two young collections, as job/run.py's

# Each command (cli/batch.py, cli/other.py) imports its work when it runs (`offboard --help`
# would otherwise load the HTTP client, the event loop and the templates: three times the CPU of
# the help itself), the Job and its models included (about 25 ms of the help's).


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


for command in (run_command, plan_command, sandbox_command, restore_command):
    cli.add_command(command)


def main() -> None:
    """Entry point: every error becomes one line on stderr and the contract's exit code."""
    # At exit the interpreter's last garbage collection walks every object still alive (the
    # modules, the user list) for memory the OS takes back anyway: about 0.1 s of CPU a run
    # here. gc.freeze() puts them out of its reach; registered first, it runs after every
    # other exit handler, and every file the run writes is closed by then.
    atexit.register(gc.freeze)
    # The command's own modules load from here (each command imports its work when it runs):
    # thousands of new functions, classes and dicts, none of them garbage, that the young
    # generation would pass over every 700 (about 70 passes as a run loads, 10-25 ms of
    # CPU). A job runs at this threshold anyway (job/run.py); so does the whole command.
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])
    run_guarded(cli, sys.argv[1:])
