"""Where a cProfile run's CPU goes: own time grouped by package, then the top functions.

    .venv/bin/python benchmarks/profile_summary.py offboard.prof

`summarise(path)` reads a .prof written by cProfile (benchmarks/run.py --profile times it with
time.process_time, so its figures are CPU seconds) and returns text lines. Each function's own
time goes to its package: the top-level name under site-packages or the standard library
(httpx, httpcore, h11, anyio, asyncio, json, ...), `offboard/<module>.py` for offboard's own
code; a C function to its module (`<method 'execute' of 'sqlite3.Connection' objects>`: sqlite3,
`_socket`: socket); builtins (isinstance, str and list methods, marshal, ...) and generated
code (`<string>`) to the package of whoever called them, split as cProfile recorded per caller.
With time.process_time as the timer, CPU spent by other threads is charged to whatever the main
thread was running then.
"""

from __future__ import annotations

import pstats
import re
import sys
import sysconfig
from pathlib import Path

Func = tuple[str, int, str]  # (filename, line, name), as pstats keys them

ROOT = Path(__file__).resolve().parent.parent
STDLIB = sorted(
    {Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib")},
    key=lambda p: -len(p.parts),
)
C_FUNCTION = re.compile(r"<built-in method ([\w.]+)>|<method '\w+' of '([\w.]+)' objects>")
C_MODULES = {"posix": "os", "imp": "importlib", "lsprof": "cProfile", "thread": "threading"}
CALLERS = {"builtins", "marshal"}  # C modules whose time is better told by who called them


def short(filename: str) -> str:
    """A source file as a path from where it is imported: site-packages, the standard
    library or the project (`httpcore/_models.py`, `asyncio/events.py`, `offboard/http/api.py`)."""
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(marker) :])
    resolved = path.resolve() if path.is_absolute() else path
    for base in (*STDLIB, ROOT):
        if resolved.is_relative_to(base):
            return resolved.relative_to(base).as_posix()
    return filename


def own_group(func: Func) -> str | None:
    """The package a function's own time belongs to, or None: charge it to its callers."""
    filename, _, name = func
    if filename == "~":
        found = C_FUNCTION.fullmatch(name)
        dotted = (found.group(1) or found.group(2)) if found else ""
        module = dotted.split(".", 1)[0].lstrip("_")
        if "." not in dotted or module in CALLERS:
            return None  # isinstance, len, str.join, list.append, ...: the caller's
        return C_MODULES.get(module, module)
    if filename.startswith("<frozen "):
        return filename[len("<frozen ") : -1].split(".", 1)[0]
    if filename.startswith("<"):
        return None  # `<string>` and other generated code
    where = short(filename)
    if where.startswith("offboard/"):
        return where
    return where.split("/", 1)[0].removesuffix(".py")


def summarise(path: str | Path, groups: int = 25, functions: int = 20) -> list[str]:
    stats = pstats.Stats(str(path))
    table: dict[Func, tuple[int, int, float, float, dict[Func, tuple[int, int, float, float]]]]
    table = stats.stats  # type: ignore[attr-defined]  # pstats' table; typeshed omits it
    total = sum(entry[2] for entry in table.values())
    if not total:
        return ["The profile recorded no CPU time."]
    memo: dict[Func, dict[str, float]] = {}

    def shares(func: Func, depth: int = 0) -> dict[str, float]:
        """Fractions of func's own time per package."""
        if func in memo:
            return memo[func]
        group = own_group(func)
        if group is not None or depth > 20:
            result = {group or "other": 1.0}
        else:
            callers = {c: f[2] for c, f in (table[func][4] if func in table else {}).items()}
            weight = sum(callers.values())
            result = {}
            for caller, own in callers.items():
                part = own / weight if weight else 1 / len(callers)
                for name, share in shares(caller, depth + 1).items():
                    result[name] = result.get(name, 0.0) + part * share
            result = result or {"other": 1.0}
        memo[func] = result
        return result

    by_group: dict[str, float] = {}
    for func, entry in table.items():
        for name, share in shares(func).items():
            by_group[name] = by_group.get(name, 0.0) + entry[2] * share
    ranked = sorted(by_group.items(), key=lambda item: -item[1])
    lines = [
        f"Profiled CPU: {total:.3f} s, the own time of every function cProfile saw "
        "(profiler overhead included, so shares are indicative).",
        "",
        f"CPU by package (top {min(groups, len(ranked))} of {len(ranked)}):",
        f"  {'share':>6}  {'CPU s':>7}  package",
    ]
    lines += [f"  {t / total:6.1%}  {t:7.3f}  {name}" for name, t in ranked[:groups]]
    rest = sum(t for _, t in ranked[groups:])
    if rest:
        lines.append(f"  {rest / total:6.1%}  {rest:7.3f}  ({len(ranked) - groups} more)")
    top = sorted(table.items(), key=lambda item: -item[1][2])[:functions]
    lines += [
        "",
        f"Top {len(top)} functions by own CPU (cumulative includes callees):",
        f"  {'share':>6}  {'own s':>7}  {'cum s':>7}  {'calls':>8}  function",
    ]
    for (filename, line, name), (_, calls, own, cumulative, _) in top:
        where = name if filename == "~" else f"{short(filename)}:{line} {name}"
        lines.append(f"  {own / total:6.1%}  {own:7.3f}  {cumulative:7.3f}  {calls:8d}  {where}")
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} FILE.prof")
    print("\n".join(summarise(sys.argv[1])))
