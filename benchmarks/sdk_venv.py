"""The interpreter that runs the official SDK's script: never a reason to skip its row.

The SDK (`gcore`) is the `bench` extra of pyproject.toml. When the interpreter running the
benchmarks has it, that one runs the SDK script too. Otherwise a full run makes the SDK its
own venv, once, beside the benchmarks (`benchmarks/.sdk-venv`, git-ignored), installing the
`bench` extra's exact requirement from PyPI; later runs reuse it. The SDK script imports
nothing of offboard's, so a venv of its own measures it just as well. A quick (smoke) run
only uses that venv when it already exists: it must not spend half a minute on pip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".sdk-venv"


def requirement() -> str:
    """The `bench` extra's requirement for the SDK, as pyproject.toml pins it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    bench: list[str] = project["optional-dependencies"]["bench"]
    (pinned,) = [r for r in bench if r.startswith("gcore")]
    return pinned


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _has_sdk(python: Path) -> bool:
    return (
        python.exists()
        and subprocess.run(
            [str(python), "-c", "import gcore"], capture_output=True, check=False
        ).returncode
        == 0
    )


def sdk_python(make: bool) -> tuple[str | None, str]:
    """(the interpreter that imports `gcore`, what was done to get it), or (None, why not)."""
    if importlib.util.find_spec("gcore") is not None:
        return sys.executable, ""
    python = _venv_python()
    if _has_sdk(python):
        return str(python), f"the SDK runs in its own venv, {VENV}"
    if not make:
        return None, (
            f"the official SDK `gcore` is in neither {sys.executable} nor {VENV}: its row is "
            f"skipped in a quick run (a full run makes that venv itself)"
        )
    pin = requirement()
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "-q", pin],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"could not make the SDK's venv ({' '.join(step[-2:])}): {last}"
    if not _has_sdk(python):
        return None, f"{VENV} was made but does not import gcore"
    return str(python), f"made the SDK its own venv, {VENV}, with {pin!r} from PyPI"
