"""The import rule: each stage of `offboard/` imports only itself and the stages below it.

The stages, bottom to top, are the folders of the package in the order data flows through
them (README, "Layout"). `sandbox/` is the simulator: it imports nothing else of offboard,
and only `job/` (for `--sandbox`) and `cli/` (for `offboard sandbox`) import it. Imports are
read from the source (every `import`, top-level or inside a function), so a wrong arrow fails
here before it can become a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "offboard"

STAGES = (
    "core",
    "source",
    "plan",
    "rate",
    "http",
    "journal",
    "execute",
    "report",
    "job",
    "restore",
    "inbox",
    "cli",
)
SANDBOX_USERS = frozenset({"job", "cli"})


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = ("offboard", *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """The offboard modules (or packages) `path` imports, as absolute names."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                targets = (
                    [".".join([*base, node.module])]
                    if node.module
                    else [".".join([*base, alias.name]) for alias in node.names]
                )
            else:
                targets = [node.module or ""]
            # `from offboard.sandbox import shapes` depends on the module, not the package face
            targets = (
                [
                    f"{targets[0]}.{alias.name}"
                    if len(targets) == 1
                    and node.module
                    and _is_module(f"{targets[0]}.{alias.name}", root)
                    else targets[0]
                    for alias in node.names
                ]
                if len(targets) == 1 and node.module
                else targets
            )
            found |= {t for t in targets if t == "offboard" or t.startswith("offboard.")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("offboard")}
    return found


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def stage(module: str) -> str:
    """`offboard.http.api` -> `http`; the package's face (`offboard.__version__`) -> ``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in (*STAGES, "sandbox") else ""


def wrong_arrows(root: Path = PACKAGE) -> list[str]:
    """Every import that breaks the rule, as `module -> target: why`."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        here = stage(source)
        for target in sorted(imports_of(path, root)):
            there = stage(target)
            if here == "sandbox" and there != "sandbox" and target != "offboard":
                wrong.append(f"{source} -> {target}: the sandbox imports nothing of offboard")
            elif there == "sandbox" and here not in SANDBOX_USERS | {"sandbox"}:
                wrong.append(f"{source} -> {target}: only job/ and cli/ start the sandbox")
            elif here in STAGES and there in STAGES and STAGES.index(there) > STAGES.index(here):
                wrong.append(f"{source} -> {target}: {here}/ may not import {there}/ (above it)")
    return wrong


def test_every_stage_imports_only_itself_and_the_stages_below():
    """No arrow runs up: a module of a stage imports only its own stage and lower ones."""
    assert wrong_arrows() == []


def test_every_module_lives_in_a_stage():
    """Nothing but the package's face sits at the top of offboard/: each module has a stage."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert folders == sorted([*STAGES, "sandbox"])


def test_no_module_imports_itself_round_a_circle():
    """The module graph, lazy imports included, has no circle (within a stage too)."""
    graph = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            assert state.get(nxt) != 1, " -> ".join([*path, node, nxt])
            if nxt not in state:
                walk(nxt, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [])


def test_the_rule_sees_a_wrong_arrow(tmp_path):
    """The checker itself: an up-arrow, a sandbox import from http/ and a sandbox module that
    reaches into offboard are each reported (so the rule cannot pass by seeing nothing)."""
    root = tmp_path / "offboard"
    for folder, text in {
        "core": "from ..report.pages import render_html\n",
        "http": "from ..sandbox.server import serve\n",
        "sandbox": "from offboard.core.models import Row\n",
        "report": "",
    }.items():
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
        (root / folder / "m.py").write_text(text)
    assert wrong_arrows(root) == [
        "offboard.core.m -> offboard.report.pages: core/ may not import report/ (above it)",
        "offboard.http.m -> offboard.sandbox.server: only job/ and cli/ start the sandbox",
        "offboard.sandbox.m -> offboard.core.models: the sandbox imports nothing of offboard",
    ]
