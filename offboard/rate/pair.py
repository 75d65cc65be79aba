"""The pair test: the run's first two requests go back to back. A spacing limiter (a token
bucket without a burst, GCRA) refuses the second; a window, or a bucket with a burst, takes
both. The rate controller (rate/control.py) asks it once, at the start; the package's
docstring (rate/__init__.py) says why each family then needs its own way to be measured.
"""

from __future__ import annotations

import math

PAIR_GAP = 0.01  # seconds: two starts further apart are no pair (a spacing limiter of 100/s
# or more takes both; on a busy machine the look-ups' pair leaves up to a few ms apart)
PAIR_TRIES = 3  # the pair test starts over at most this often for that
VERDICT_WAIT = 0.1  # seconds after the pair's first answer that others wait for its second
AGAIN_WAIT = 1.0  # seconds after a pair asked again that others wait for its verdict
VERDICT_POLL = 0.001  # how often they ask meanwhile (the second is a few ms behind)
QUESTION_SPACING = 1.25  # the question goes this many look-up gaps after the pair's first
QUESTION_LATE = 0.1  # seconds: a question not sent by then is none (a window may have rolled)
QUESTION_WITHIN = 0.5  # seconds after the first of the pair's company: a question later is none


class PairTest:
    def __init__(self) -> None:
        self.sends: list[float] = []  # send times of the pair
        self.answers: list[bool] = []  # accepted, in the order they came
        self.resume_at = 0.0  # when a refused one's Retry-After ends
        self.again = False  # asked again: a window may have refused the first pair
        self.question_at = math.inf  # a question is due then (a window of the pair's count?)
        self.question: float | None = None  # its send time
        self._first_answer = 0.0
        self._tries = 0

    @property
    def sending(self) -> bool:
        """The pair is not all sent yet: its requests go without pacing."""
        return len(self.sends) < 2 and not self.asking

    @property
    def asking(self) -> bool:
        """A question is due or in flight."""
        return self.question_at < math.inf

    def ask(self, at: float) -> None:
        """The pair's second was refused with company in its second (the run's first
        look-up): a window of that count refuses it as a spacing limiter does. One request
        at `at` (the look-ups' own spacing after the pair's first) tells them apart: the
        window, still full, refuses it; the spacing limiter took that gap already."""
        self.question_at, self.question = at, None

    def question_sent(self, now: float) -> bool:
        """A request started while a question is due: True if it is the question. Sent
        too late (no caller was ready: a window may have rolled meanwhile), it is none, and
        the pair is asked again once the window would have rolled (from `resume_at`)."""
        if self.question is not None:
            return False
        if now <= self.question_at + QUESTION_LATE:
            self.question = now
            return True
        self.again_after_roll()
        return False

    def again_after_roll(self) -> None:
        """No question: a pair asked again, nothing else sent before its verdict."""
        self.question_at, self.question = math.inf, None
        self.restart()
        self.again = True

    def answered_question(self, now: float, sent_at: float, accepted: bool, wait: float) -> str:
        """The question's answer (a 429's Retry-After `wait`): "spacing" if taken, "window"
        if refused, "" if this is not its answer."""
        if not self.asking or sent_at != self.question:
            return ""
        self.question_at, self.question = math.inf, None
        if not accepted:
            self.resume_at = now + wait
        return "spacing" if accepted else "window"

    def sent(self, now: float, concurrency: int) -> bool:
        """A request started at `now` during the test; True if it completed the pair."""
        if self.asking and self.question_sent(now):
            return False
        if (
            len(self.sends) == 1
            and now - self.sends[0] > PAIR_GAP
            and concurrency != 1
            and self._tries < PAIR_TRIES
        ):
            # The caller had one request ready (the look-up before the others): a limiter
            # spacing requests 1 / L apart takes two that far apart, and the test would
            # say "window". Start over with this one: its siblings follow it at once.
            self.restart()
            self._tries += 1
        if len(self.sends) < 2:
            self.sends.append(now)
            return len(self.sends) == 2
        return False

    def held_until(self, now: float) -> float:
        """One of the pair answered and the other not yet: the next start waits (at most
        VERDICT_WAIT) for the verdict, since a start at --rate meanwhile would be refused
        with the pair's second by a window it filled (a look-up's next page, sw2). A pair
        asked again holds every start until its verdict (at most AGAIN_WAIT)."""
        if self.asking:  # the question goes alone, and nothing before its answer
            if self.question is None:  # too late for one: the pair again, once it rolled
                late = now > self.question_at + QUESTION_LATE
                return max(now, self.resume_at) if late else max(now, self.question_at)
            return min(now + VERDICT_POLL, self.question + AGAIN_WAIT)
        if len(self.sends) < 2 or len(self.answers) >= 2:
            return now
        if self.answers:
            return min(now + VERDICT_POLL, self._first_answer + VERDICT_WAIT)
        # A pair asked again (a limit is known to be there): nothing goes before its verdict.
        return min(now + VERDICT_POLL, self.sends[1] + AGAIN_WAIT) if self.again else now

    def answered(self, now: float, sent_at: float, accepted: bool, wait: float) -> str:
        """An answer (a 429's Retry-After `wait`); returns the verdict once both are in and
        one was accepted ("window" if both, "spacing" if the second was refused), else ""."""
        if sent_at not in self.sends or len(self.answers) >= 2:
            return ""
        if not self.answers:
            self._first_answer = now
        if not accepted:
            self.resume_at = now + wait
        self.answers.append(accepted)
        if len(self.answers) == 2 and any(self.answers):
            return "window" if all(self.answers) else "spacing"
        return ""

    def refused_outright(self) -> bool:
        """Every answer so far refused, and nothing else to wait for: the key was busy
        before the run, and nothing was learnt."""
        return (
            bool(self.sends)
            and not any(self.answers)
            and (len(self.sends) < 2 or len(self.answers) == 2)
        )

    def restart(self) -> None:
        self.sends, self.answers = [], []

    def __contains__(self, sent_at: float) -> bool:
        return sent_at in self.sends
