"""The package's shape in figures: modules, import arrows, layers, sizes, per stage.

    .venv/bin/python benchmarks/structure.py             # this checkout
    .venv/bin/python benchmarks/structure.py --repo DIR  # another checkout (an older commit)

Imports are read from the source (top-level and inside functions), as tests/test_layers.py
reads them. An arrow is one module importing another module of offboard (the package's face,
`offboard/__init__.py`, and the sandbox's inside are left out, as are test and benchmark files).
"Layers" is the longest chain of arrows plus one: how many floors the import graph has.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from functools import cache
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = ("offboard", *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def arrows(root: Path) -> dict[str, set[str]]:
    """module -> the offboard modules it imports (packages resolved to their modules)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                module = ".".join(x for x in (base, node.module or "") if x)
                for alias in node.names:
                    target = f"{module}.{alias.name}"
                    found.add(target if target in files else module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {t for t in found if t in files and t != name and t != "offboard"}
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().repo / "offboard"
    graph = arrows(root)
    inner = {
        m: d
        for m, d in graph.items()
        if not m.startswith("offboard.sandbox") and m not in ("offboard", "offboard.__main__")
    }
    modules = {m for m in inner if not (root / Path(*m.split(".")[1:]) / "__init__.py").exists()}

    @cache
    def depth(module: str) -> int:
        below = [t for t in inner.get(module, ()) if t in inner]
        return 1 + max((depth(t) for t in below), default=0)

    lines = {
        m: len(
            (root / Path(*m.split(".")[1:]))
            .with_suffix(".py")
            .read_text(encoding="utf-8")
            .splitlines()
        )
        for m in modules
    }
    count = sum(len({t for t in d if t in inner}) for m, d in inner.items() if m in modules)
    stages = Counter(m.split(".")[1] if m.count(".") > 1 else "(top level)" for m in modules)
    print(f"modules (sandbox and package faces left out): {len(modules)}")
    print(f"import arrows between them: {count}")
    print(f"layers (longest import chain): {max(depth(m) for m in modules)}")
    print(
        f"lines: {sum(lines.values())}; largest module: "
        f"{max(lines.values())} ({max(lines, key=lines.__getitem__)})"
    )
    print(f"modules over 300 lines: {sum(n > 300 for n in lines.values())}")
    print("per folder: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))


if __name__ == "__main__":
    main()
