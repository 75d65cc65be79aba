"""Work on a thread of its own while the run goes on: a blocking call (fsyncs, mostly),
and an import the report will need.

fsync releases the GIL, so the disk's time goes beside the caller's CPU; `wait` joins the
thread and raises what the call raised, as if it had been made where `wait` is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    """`call` on a thread of its own, started now."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="offboard-background")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # raised by wait(), in the caller's thread
            self._failed = exc

    def joined(self) -> BaseException | None:
        """What the call raised (None: nothing, or already raised by `wait`), once it is
        over."""
        self._thread.join()
        failed, self._failed = self._failed, None
        return failed

    def wait(self) -> None:
        self._thread.join()
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed


def importing_after(items: Iterable[T], load: Callable[[], object]) -> Iterator[T]:
    """`items`, then `load` called on a daemon thread once the last item is taken.

    The run's last rows are then in flight, and the read-back's round trip follows: the
    event loop mostly waits on the network, so what the report needs loaded (its modules,
    Jinja2 and the compiled pages: ~70 ms of CPU) goes there rather than after everything.
    The import lock makes the report's own import wait for this one, or do it itself if
    this one failed."""
    yield from items
    threading.Thread(target=_quietly, args=(load,), name="offboard-prefetch", daemon=True).start()


def _quietly(load: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # the report's own import raises it, where it can
        load()
