"""The person's side of a job once it is on the event loop: the yes/no on a terminal, and the
signals that stop it. `run` (job/session.py) and `restore` (restore/session.py) share both.

The question is answered through `Seams.confirm` (click's prompt, or a test's answer) in a
worker thread, so the event loop keeps watching for signals: a SIGINT at the prompt ends the
wait, and a prompt cut short, an aborted job or a "no" each refuse before anything is sent.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import anyio
import anyio.to_thread

from ..core.errors import Refused
from ..http.api import Api
from ..report.logs import Log


class Prompt:
    """The one question before the first change is sent."""

    def __init__(self, confirm: Callable[[str], bool]) -> None:
        self._confirm = confirm
        self._scope: anyio.CancelScope | None = None

    def cancel(self) -> None:
        """A signal came: stop waiting for the answer (the job is then refused)."""
        if self._scope is not None:
            self._scope.cancel()

    async def ask(self, text: str, api: Api) -> None:
        """Ask `text`; return only on a "yes" that came before any abort."""
        confirmed = False
        with anyio.CancelScope() as self._scope:
            confirmed = await anyio.to_thread.run_sync(self._confirm, text, abandon_on_cancel=True)
        if self._scope.cancelled_caught or api.abort_reason or not confirmed:
            raise Refused("not confirmed: nothing was sent")


async def watch_signals(api: Api, log: Log, prompt: Prompt, hard_stop: anyio.CancelScope) -> None:
    """First SIGINT/SIGTERM: send nothing new, let requests in flight finish, report.
    A second one: stop at once (the journal still lets --resume continue)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for number in received:
            name = signal.Signals(number).name
            prompt.cancel()
            if not api.abort_reason:
                api.abort(f"interrupted by {name}")
                log.warn(
                    f"{name}: finishing the requests in flight, then writing the "
                    "report; send it again to stop at once"
                )
            else:
                hard_stop.cancel()
