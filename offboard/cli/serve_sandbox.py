"""`offboard sandbox`: load a scenario file and serve it until stopped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import yaml

from ..core.errors import SettingsError
from ..core.fs import reason
from ..sandbox import PortUnavailable, SandboxError, demo_world, load_world, serve
from ..sandbox.scenario_limits import parse_rate_limit


def serve_scenario(port: int, scenario: str | None, rate_limit: str | None = None) -> int:
    """`rate_limit`: the `--rate-limit SPEC` text, replacing the world's `faults.rate_limit`."""
    if scenario is None:
        world = demo_world()
    else:
        try:
            document = yaml.safe_load(Path(scenario).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"--scenario {scenario}: cannot read: {reason(exc)}") from None
        except UnicodeDecodeError:
            raise SettingsError(f"--scenario {scenario}: not UTF-8 text") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise SettingsError(f"--scenario {scenario}: {where}not valid YAML") from None
        # A job file's sandbox: section, or a bare world mapping.
        if isinstance(document, dict) and "sandbox" in document:
            document = document["sandbox"]
        if not isinstance(document, dict):
            raise SettingsError(f"--scenario {scenario}: expected a mapping (a sandbox world)")
        try:
            world = load_world(document, origin=scenario)
        except SandboxError as exc:
            raise SettingsError(str(exc)) from None

    if rate_limit is not None:
        try:
            limit = parse_rate_limit(rate_limit)
        except SandboxError as exc:
            raise SettingsError(str(exc)) from None
        world = dataclasses.replace(
            world, faults=dataclasses.replace(world.faults, rate_limit=limit)
        )

    def ready(url: str) -> None:
        click.echo(f"Gcore IAM sandbox listening on {url}", err=False)
        click.echo(f"  API key for it: {world.api_key}   (Ctrl-C stops it)")

    try:
        serve(world, port, on_ready=ready)
    except PortUnavailable as exc:
        raise SettingsError(port_problem(exc)) from None
    return 0


def port_problem(exc: PortUnavailable) -> str:
    """One line naming the port and the option that changes it."""
    what = "is in use" if exc.in_use else f"cannot be used ({exc.reason})"
    return (
        f"port {exc.port} on {exc.host} {what}: choose another with --port N "
        "(--port 0 picks a free one)"
    )
