"""job/background.py: the journal's fsyncs beside the lists, and the pages' import while the
last rows are in flight; job/run.py's collector thresholds while a job runs."""

from __future__ import annotations

import gc
import importlib
import sys
import threading

import httpx
import pytest

from offboard.job.background import Background, importing_after
from offboard.job.run import YOUNG

from .conftest import KEY
from .helpers import run_two_rows


def test_a_background_call_raises_where_it_is_waited_for():
    """What the call raised comes out of wait(), as itself, in the caller's thread."""

    def failing() -> None:
        raise OSError("disk full")

    running = Background(failing)
    with pytest.raises(OSError, match="disk full"):
        running.wait()


def test_the_module_is_imported_once_the_last_item_is_taken():
    """Every item comes through in order; the import starts only when the items are spent
    (not while rows are still being sent), and then happens."""
    sys.modules.pop("tabnanny", None)
    items = importing_after(iter([1, 2, 3]), lambda: importlib.import_module("tabnanny"))
    assert [next(items), next(items), next(items)] == [1, 2, 3]
    assert not [t for t in threading.enumerate() if t.name == "offboard-prefetch"]
    assert next(items, None) is None
    for thread in [t for t in threading.enumerate() if t.name == "offboard-prefetch"]:
        thread.join()
    assert "tabnanny" in sys.modules


def test_a_module_that_cannot_be_imported_is_left_to_the_report():
    """An import that fails on the thread says nothing: the report's own import raises it."""
    items = importing_after(iter([1]), lambda: importlib.import_module("offboard.no_such_module"))
    assert list(items) == [1]
    for thread in [t for t in threading.enumerate() if t.name == "offboard-prefetch"]:
        thread.join()
    assert "offboard.no_such_module" not in sys.modules


class Thresholds(httpx.AsyncBaseTransport):
    """Loopback HTTP to the sandbox, noting the collector's young threshold at each request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.young: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.young.append(gc.get_threshold()[0])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_young_collections_are_rarer_during_a_run_and_as_before_after(sandbox, tmp_path):
    """While a job runs, the collector's young generation waits for YOUNG new objects, not
    700 (a run makes hundreds of thousands of short-lived dicts, and each young pass that
    fills the older generations makes a later pass walk them); after it, as it was."""
    before = gc.get_threshold()
    sb = sandbox()
    transport = Thresholds()
    done = run_two_rows(sb.url, tmp_path, KEY, transport)
    assert done.exit_code == 0, done.problem
    assert transport.young and set(transport.young) == {YOUNG}
    assert gc.get_threshold() == before


def test_the_finish_is_loaded_ahead_with_the_pages_compiled():
    """The session's prefetch loads the finish's modules and both pages' templates, so the
    render on the main thread finds them loaded."""
    from offboard.job.session import _load_the_finish
    from offboard.report.pages import _environment

    _load_the_finish()
    assert "offboard.job.outputs" in sys.modules
    cache = _environment().cache
    assert cache is not None
    loaded = {key[1] for key in cache}  # (loader, name) keys
    assert {"report.html.j2", "summary.txt.j2"} <= loaded
