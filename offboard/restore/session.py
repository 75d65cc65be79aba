"""A restore's time on the network, on one Api, as a run's (job/session.py): the run's rate
limiter, retries and retry budget, its transport and clock seams, its prompt and its signals.

    read     the key's user (must be the run's) and today's user list -> a Step per row
    decide   the cap (--max-restores), then the question on a terminal (job/prompt.py)
    send     every Step on the shared executor (execute/workers.py): at most --concurrency
             invites in flight, a row that raises ends `failed`, an abort leaves the rest
             `not_attempted`; each row journaled as it settles (restore/report.py)

Everything that can refuse happens before `begin()` makes the report directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..core.errors import AuthRejected, OffboardError, Refused, SettingsError
from ..core.job import Seams
from ..core.restore_record import RestoreOutcome
from ..core.settings import Settings
from ..execute.workers import execute_rows
from ..http.api import Api, DirectoryError, RequestNotSent, make_client
from ..job.prompt import Prompt, watch_signals
from ..report.logs import Log
from .invite import Inviter, kind
from .output import question
from .plan import Restored, Revoked, Step, step
from .report import Journal

Done = Mapping[tuple[int, int], Mapping[str, Any]]  # rows an earlier attempt settled


@dataclass(slots=True)
class Restoring:
    """One restore's rows, and what it may and may not do with them."""

    settings: Settings
    seams: Seams
    log: Log
    source: Path  # the run's report directory
    key_user: Any  # the run's key's user, as its summary.json recorded it
    chosen: Sequence[Revoked]
    done: Done
    plan: bool
    yes: bool
    max_restores: int
    begin: Callable[[], Journal]  # makes the report directory, once nothing can refuse
    steps: list[Step] = field(default_factory=list)
    aborted: bool = False
    statuses: dict[str, int] = field(default_factory=dict)  # requests by status, for metrics
    retries: int = 0

    async def run(self) -> None:
        prompt, hard_stop = Prompt(self.seams.confirm), anyio.CancelScope()
        refused: OffboardError | None = None
        async with make_client(self.settings, self.seams.transport) as client:
            api = Api(self.settings, client, self.seams.clock, self.seams.rng, self.log.retry)
            try:
                async with anyio.create_task_group() as watchers:
                    watchers.start_soon(watch_signals, api, self.log, prompt, hard_stop)
                    try:
                        await self._work(api, prompt, hard_stop)
                    except OffboardError as exc:  # carried out of the task group unwrapped
                        refused = exc
                    watchers.cancel_scope.cancel()
            finally:
                self.statuses, self.retries = dict(api.statuses), api.retries
        if refused is not None:
            raise refused

    async def _work(self, api: Api, prompt: Prompt, hard_stop: anyio.CancelScope) -> None:
        self.steps = await self._read(api)
        sending = [
            s
            for s in self.steps
            if s.outcome is None and (s.revoked.row, s.revoked.account) not in self.done
        ]
        if not self.plan and len(sending) > self.max_restores:
            raise Refused(
                f"{len(sending)} invites planned, above --max-restores "
                f"{self.max_restores}: refusing the whole restore"
            )
        if not self.plan and not self.yes and self.seams.interactive and sending:
            await prompt.ask(question(sending, self.steps), api)
        journal = self.begin()

        def settled(restored: Restored) -> Restored:
            self.log.restored(journal.record(restored))
            return restored

        try:
            await execute_rows(
                kind(self.plan),
                self.steps,
                api,
                self.settings.concurrency,
                Inviter(),
                settled=settled,
                ordered=lambda restored: None,
                hard_stop=hard_stop,
                carried=self._carried,
            )
        finally:
            journal.close()
        self.aborted = bool(api.abort_reason)

    def _carried(self, item: Step) -> Restored | None:
        """A row an earlier attempt of this restore settled: left as it was journaled."""
        record = self.done.get((item.revoked.row, item.revoked.account))
        if record is None:
            return None
        return Restored(item.revoked, RestoreOutcome(record["outcome"]), str(record.get("message")))

    async def _read(self, api: Api) -> list[Step]:
        """Check the key's user against the run's, then decide each row from the user list."""
        try:
            me = await api.whoami()
            if me != self.key_user:
                raise SettingsError(
                    f"{self.source}: that run was made with another key's user "
                    f"({self.key_user}), not {me}: restore with the run's key"
                )
            directory = await api.list_users()
        except (DirectoryError, RequestNotSent) as exc:
            if "401" in api.abort_reason:
                raise AuthRejected(f"{api.abort_reason}: nothing was restored") from None
            raise Refused(f"cannot read the user list: {api.abort_reason or exc}") from None
        return [step(revoked, directory) for revoked in self.chosen]
