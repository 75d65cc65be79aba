"""Which offboard functions one row's Result is handed to, in order, on its way from the DELETE's
answer to the journal and the report (issue 20's "back to the report" measure).

Runs `offboard run` in-process on a one-row CSV against the sandbox with a profiler that notes
every offboard call whose arguments include a `Result`; prints the calls, then the modules:

    .venv/bin/python benchmarks/row_path.py /tmp/row-path
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import offboard
from offboard.core.models import Result
from offboard.sandbox import Sandbox, load_world

PACKAGE = str(Path(offboard.__file__).parent)
WORLD = {
    "api_key": "4242_c0ffee5ecretd00d",
    "account": 10,
    "key_user": 1,
    "accounts": [{"id": 10, "name": "Ten"}],
    "users": [
        {"id": 1, "email": "a@t.example", "roles": {10: "Administrators"}},
        {"id": 101, "email": "b@t.example", "roles": {10: "Users"}},
    ],
}


def main(work: Path) -> None:
    calls: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(PACKAGE):
            return
        if "/sandbox/" in code.co_filename:
            return
        arguments = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(isinstance(frame.f_locals.get(name), Result) for name in arguments):
            module = code.co_filename[len(PACKAGE) + 1 : -3]
            if not calls or calls[-1] != (module, code.co_qualname):
                calls.append((module, code.co_qualname))

    with Sandbox(load_world(WORLD, origin="row_path"), port=0) as sandbox:
        work.mkdir(parents=True, exist_ok=True)
        os.chdir(work)
        Path("one.csv").write_text("account,user\n10,101\n", encoding="utf-8")
        os.environ["GCORE_API_KEY"] = str(WORLD["api_key"])
        sys.argv = ["offboard", "run", "one.csv", "--base-url", sandbox.url, "-q"]
        from offboard.cli.main import main as offboard_main

        sys.setprofile(profile)
        try:
            offboard_main()
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.setprofile(None)
    modules: list[str] = []
    for module, function in calls:
        print(f"  {module}: {function}")
        if not modules or modules[-1] != module:
            modules.append(module)
    print(
        f"exit {code}; {len(calls)} calls, {len(set(modules))} modules, "
        f"{len(modules)} module visits:"
    )
    print("  " + " -> ".join(modules))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "row-path"))
