"""conftest's ordering: the longest tests head the workers' shares, and nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LONGEST_FIRST, pytest_collection_modifyitems


class _Item:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid


def _ordered(nodeids: list[str], workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    items: list[Any] = [_Item(nodeid) for nodeid in nodeids]
    pytest_collection_modifyitems(items)
    return [item.nodeid for item in items]


def test_each_long_test_heads_a_workers_slice_in_turn(monkeypatch):
    """With 4 workers (xdist's contiguous slices of 25, 25, 25, 25), the longest four open the
    four slices, the next four follow them; every other test keeps its order."""
    plain = [f"tests/test_x.py::test_{i}" for i in range(92)]
    long = [f"{prefix}[x]" for prefix in LONGEST_FIRST[:8]]
    ordered = _ordered(plain[:40] + long[::-1] + plain[40:], 4, monkeypatch)
    assert sorted(ordered) == sorted(plain + long)
    assert [ordered[k * 25] for k in range(4)] == long[:4]
    assert [ordered[k * 25 + 1] for k in range(4)] == long[4:8]
    assert [n for n in ordered if n in plain] == plain


def test_a_run_too_small_to_share_out_runs_the_long_tests_first(monkeypatch):
    """Fewer tests than slices for them: the long ones first, then the rest, none lost."""
    long = [f"{prefix}[x]" for prefix in LONGEST_FIRST[:3]]
    assert _ordered(["tests/test_x.py::test_a", *long[::-1]], 4, monkeypatch) == [
        *long,
        "tests/test_x.py::test_a",
    ]


def test_every_longest_first_entry_names_a_test_that_exists():
    """A renamed or removed long test would silently stop being moved: each entry (a prefix of
    node IDs) must still match a test function defined in its file."""
    from pathlib import Path

    root = Path(__file__).parent.parent
    for prefix in LONGEST_FIRST:
        path, name = prefix.split("::")
        function = name.split("[")[0]
        assert f"def {function}" in (root / path).read_text(encoding="utf-8"), prefix
