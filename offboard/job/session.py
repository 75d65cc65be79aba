"""One job's time on the network: prepare, decide, execute; every row journaled.

    prepare:  key's own user, user list (job/lookups.py) -> [Action] (plan/rows.py)
              -> guards (plan/guards.py) -> who the batch deletes (plan/deletions.py); a run
              from a plan is checked against what SOURCE means now (plan/planmatch.py); the
              batch users' last logins (job/lookups.py), which each row's result carries
              into the journal
    decide:   cap, confirmation on a terminal          (refusals: exit 2, nothing sent)
    execute:  Revoker (run) or Previewer (plan) per row -> Result, journaled as it
              settles, written in input order (journal/writer.py)
    verify:   a run's revoked rows read back, each verdict journaled (job/verified.py)

The journal (results.jsonl) is the one record of what happened to each row:
everything the run shows afterwards (report files, counts, exit code, metrics)
is computed from what went into it (job/outputs.py). The session ends in an Ended
(job/ended.py); a batch without rows never gets here (ended.no_rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import anyio

from ..core.directory import Directory
from ..core.errors import Refused
from ..core.job import Seams
from ..core.models import Action, Mode, Outcome, Result
from ..core.sinks import RowMark, Subscribers
from ..execute.preview import Previewer
from ..execute.revoke import Revoker
from ..execute.verify import Check
from ..execute.workers import execute
from ..http.api import Api, make_client
from ..journal.reader import Previous, row_key
from ..journal.writer import Report
from ..plan.deletions import Decider, Deletions, Tracker
from ..plan.guards import guard
from ..plan.planmatch import check_plan_matches
from ..plan.rows import FirstSeen, plan
from ..plan.sendable import may_send, unsent
from ..report.terminal import progress
from .ahead import ParsedAhead
from .background import importing_after
from .confirm import decide
from .context import JobContext
from .ended import Ended, Prepared, plan_writer
from .lookups import LoginsAhead, read_directory, read_logins
from .prompt import Prompt, watch_signals
from .survey import Survey
from .verified import verify


class Session:
    def __init__(
        self, context: JobContext, *, previous: Previous | None, report: Report, seams: Seams
    ) -> None:
        self.job, self.batch, self.planned = context.job, context.batch, context.planned
        self.settings, self.guarding, self.log = context.settings, context.guarding, context.log
        # A plan made with --everywhere is checked against SOURCE as that plan read it.
        self.everywhere = context.all_everywhere or bool(self.planned and self.planned.everywhere)
        self.everywhere_note = context.everywhere  # the prompt's first line, when set
        self.previous, self.report, self.seams = previous, report, seams
        self.hard_stop: anyio.CancelScope | None = None  # made inside the event loop
        self.prompt = Prompt(seams.confirm)
        # The guarded Actions of the pass before the first DELETE, when there were at most
        # KEPT_ACTIONS (job/survey.py): every later pass goes through them instead of
        # planning each row again (the directory, the key's user and the protection are the
        # same for every pass).
        self._kept: list[Action] | None = None
        self._ahead = ParsedAhead()  # the rows parsed during the look-ups, if they were

    async def run(self) -> Ended:
        refused: Refused | None = None
        ended: Ended | None = None
        self.hard_stop = anyio.CancelScope()
        async with make_client(self.settings, self.seams.transport) as client:
            api = Api(self.settings, client, self.seams.clock, self.seams.rng, self.log.retry)
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(watch_signals, api, self.log, self.prompt, self.hard_stop)
                try:
                    ended = await self._work(api)
                except Refused as exc:  # carried out of the task group unwrapped
                    refused = exc
                watchers.cancel_scope.cancel()
        if refused is not None:
            raise refused
        assert ended is not None
        return ended

    async def _work(self, api: Api) -> Ended:
        job, batch, report = self.job, self.batch, self.report
        seen = FirstSeen()
        tracker_box: list[Tracker] = []
        prepared = await self._prepare(api, seen, tracker_box)
        tracker = tracker_box[0]
        if not api.abort_reason:
            await decide(
                api,
                prepared,
                job=self.job,
                guarding=self.guarding,
                interactive=self.seams.interactive,
                log=self.log,
                prompt=self.prompt,
                actions=lambda: self._actions(prepared, FirstSeen()),
                everywhere=self.everywhere_note,
            )
        report.open(prepared.people)
        checks: list[Check] = []  # revoked rows to read back
        # carried pairs (row, account) an earlier run read back
        verified_before: set[tuple[int, int | None]] = set()
        plan_file = plan_writer(job, batch, report, prepared, self.everywhere)
        carried = 0

        def take_over(action: Action) -> Result | None:
            nonlocal carried
            if self.previous is None:
                return None
            key = row_key(action.row, action.account)
            result = self.previous.kept(key, action.row)
            if result is not None:
                carried += 1
                record = self.previous.record(key)
                report.carry(result, record)
                if record.get("verified") is True:
                    verified_before.add((action.row.number, action.account))
            return result

        def ordered(result: Result) -> None:
            report.write(result)
            if (
                result.outcome is Outcome.REVOKED
                and result.account is not None
                and result.user_id is not None
                and (result.row.number, result.account) not in verified_before
            ):
                checks.append(
                    Check(result.row.number, result.account, result.row.user, result.user_id)
                )
            if plan_file is not None:
                plan_file.write(result)

        work = (
            Previewer(prepared.deletions)
            if job.mode is Mode.PLAN
            else Revoker(
                self.guarding.delete_tokens,
                self.previous.in_flight if self.previous else frozenset(),
            )
        )
        assert self.hard_stop is not None
        total = len(self.planned.actions) if self.planned else batch.row_count
        # A plan's deletion marks are the plan's own (Previewer): only a run tracks them.
        marks: list[RowMark] = [tracker] if job.mode is Mode.RUN else []
        if prepared.activity is not None:
            marks.append(prepared.activity)
        with progress(
            total, enabled=not self.log.chatty and self.log.verbosity >= 0 and not self.log.json
        ) as bar:
            subscribers = Subscribers(journal=report, marks=marks, watchers=(self.log, bar))
            await execute(
                importing_after(self._actions(prepared, seen), _load_the_finish),
                api,
                self.settings.concurrency,
                work,
                subscribers=subscribers,
                ordered=ordered,
                hard_stop=self.hard_stop,
                carried=take_over,
                before_send=lambda a: report.mark_sending(a.row, a.account),
            )
        seen.close()
        if plan_file is not None:
            plan_file.close()
        read = None
        if job.mode is Mode.RUN and not job.no_verify and not api.abort_reason:
            read = await verify(api, prepared, checks, verified_before, self.settings, report)
        return Ended(
            report,
            prepared,
            api.abort_reason,
            dict(api.statuses),
            api.retries,
            carried if self.previous else None,
            read,
        )

    async def _prepare(self, api: Api, seen: FirstSeen, tracker_box: list[Tracker]) -> Prepared:
        """Learn the key's user and the user list (reads only), then go through the rows
        once: the cap, the prompt and who the batch deletes all see the whole batch."""
        batch, planned, guarding = self.batch, self.planned, self.guarding
        if not may_send(batch, planned):  # nothing usable: no reason to call the API at all
            tracker_box.append(Tracker(Deletions()))
            return Prepared(None, None, "", "")
        logins = LoginsAhead()
        first = await self._ahead.during(
            read_directory(api, planned, self.previous, guarding.protection, logins),
            None if planned is not None else batch.rows,
            self.everywhere,
        )
        directory = first.directory
        key_user, directory_error = first.key_user, first.directory_error
        if planned is not None and not api.abort_reason:
            now = plan(batch.rows, directory, directory_error, FirstSeen(), self.everywhere)
            check_plan_matches(planned, now)
        known = directory.people if directory is not None else {}
        clock = datetime.now(UTC)
        survey = Survey(known, self.previous, clock, self.guarding.active_days, self._ahead.leaves)
        for action in self._guarded(first, seen):
            survey.keep(action)
            survey.add(unsent(action, first.aborted) if first.aborted else action)
        self._kept, people = survey.kept, survey.people
        deletions = self._deletions(survey.decider, directory)
        # A resume records too: the accounts its users gained since (a `*` row revokes them)
        self.report.record_batch(deletions, people, directory.names if directory else {})
        if self.previous is not None:  # users deleted since are no longer in the list
            people = {**self.previous.people, **people}
        tracker = Tracker(deletions)
        for result in survey.carried:
            tracker.carried(result)
        tracker_box.append(tracker)
        activity = None
        if survey.users and not api.abort_reason:
            activity = await read_logins(
                api,
                survey.users,
                clock,
                self.guarding.active_days,
                survey.oldest,
                self.log,
                logins.page,
            )
        return Prepared(
            key_user,
            directory,
            directory_error,
            api.abort_reason,
            survey.tally.sending,
            len(survey.tally.accounts),
            len(survey.tally.users),
            deletions,
            people,
            activity,
            survey.everywhere,
        )

    def _deletions(self, decider: Decider, directory: Directory | None) -> Deletions:
        """Decided once per batch: a resume reuses the run's answer (but for a user who
        gained accounts since), a run from a plan the plan's; a first run decides from the
        user list."""
        if self.previous is not None and self.previous.deletions is not None:
            return self.previous.deletions.regrown(decider.decide(directory), directory)
        if self.planned is not None:
            return self.planned.deletions
        return decider.decide(directory)

    def _actions(self, prepared: Prepared, seen: FirstSeen) -> Iterator[Action]:
        """The rows as they will be sent: the pass before the first DELETE's Actions when it
        kept them all, else regenerated lazily for each pass."""
        source = self._kept if self._kept is not None else self._guarded(prepared, seen)
        for action in source:
            yield unsent(action, prepared.aborted) if prepared.aborted else action

    def _guarded(self, prepared: Prepared, seen: FirstSeen) -> Iterator[Action]:
        """The rows planned and guarded, lazily: what `_actions` sends, before any abort."""
        if self.planned is not None:
            source: Iterable[Action] = self.planned.actions
        else:
            source = plan(
                self.batch.rows,
                prepared.directory,
                prepared.directory_error,
                seen,
                self.everywhere,
                self._ahead.targets,
            )
        protection = self.guarding.protection.merged_own(prepared.key_user)
        for action in source:
            yield guard(action, protection, prepared.directory)


def _load_the_finish() -> None:
    """What the finish needs loaded, imported here (on the prefetch's thread: see
    job/background.py) rather than before the first request."""
    from ..report.pages import load_templates
    from . import outputs  # noqa: F401

    load_templates()
