"""How the process ends: every error one line on stderr (text, or JSON with --log-format
json) and the contract's exit code, never a traceback.

Apart from cli/main.py, which declares the commands: this is the process's edge, where click's
exceptions, offboard's own and anything unforeseen are translated once.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from ..core.errors import OffboardError

# How a failure that ends the process is printed: set once the options are parsed.
_ERRORS = {"format": "text", "run_id": ""}

# click 8.2+: what `no_args_is_help` raises (8.1 printed the help and exited 0 itself).
_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def errors_as(log_format: str, run_id: str) -> None:
    """From now on, a failure is printed in `log_format`, naming the invocation's `run_id`."""
    _ERRORS.update(format=log_format, run_id=run_id)


def run_guarded(cli: click.Group, words: list[str]) -> NoReturn:
    """Run the command line on `words`; every error becomes one line on stderr and the
    contract's exit code."""
    # A usage error is found before --log-format is parsed (it may come after the bad
    # option), so JSON mode is read from the raw words: then every line is JSON.
    _ERRORS["format"] = _raw_log_format(words)
    try:
        code: Any = cli.main(words, prog_name="offboard", standalone_mode=False)
    except _NO_ARGS as exc:
        # A bare `offboard` asked for nothing wrong: the help, exit 0 (as git and pip do);
        # click 8.2+ raises it as a usage error (exit 2), 8.1 printed it and exited 0.
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        code = 0
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
            import traceback

            traceback.print_exc()
        _fail(f"internal error ({type(exc).__name__}); set OFFBOARD_DEBUG=1 for details", 3)
    sys.exit(code if isinstance(code, int) else 0)


def _raw_log_format(words: list[str]) -> str:
    """`--log-format json` (or `=json`) among the words before `--`, else text."""
    for index, word in enumerate(words):
        if word == "--":
            break
        if word == "--log-format=json" or (
            word == "--log-format" and words[index + 1 : index + 2] == ["json"]
        ):
            return "json"
    return "text"


def _fail(message: str, code: int) -> None:
    if _ERRORS["format"] == "json":
        click.echo(
            json.dumps(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "run_id": _ERRORS["run_id"],
                    "job": None,
                    "event": "error",
                    "message": message,
                    "exit_code": code,
                },
                ensure_ascii=False,
            ),
            err=True,
        )
    else:
        click.echo(f"offboard: {message}", err=True)
    sys.exit(code)
