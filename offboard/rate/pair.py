"""The pair test: the run's first two requests go back to back. A spacing limiter (a token
bucket without a burst, GCRA) refuses the second; a window, or a bucket with a burst, takes
both. The rate controller (rate/control.py) asks it once, at the start; the package's
docstring (rate/__init__.py) says why each family then needs its own way to be measured.
"""

from __future__ import annotations

PAIR_GAP = 0.002  # seconds: two starts further apart are no pair (a spacing limiter takes both)
PAIR_TRIES = 3  # the pair test starts over at most this often for that
VERDICT_WAIT = 0.1  # seconds after the pair's first answer that others wait for its second
AGAIN_WAIT = 1.0  # seconds after a pair asked again that others wait for its verdict
VERDICT_POLL = 0.001  # how often they ask meanwhile (the second is a few ms behind)


class PairTest:
    def __init__(self) -> None:
        self.sends: list[float] = []  # send times of the pair
        self.answers: list[bool] = []  # accepted, in the order they came
        self.resume_at = 0.0  # when a refused one's Retry-After ends
        self.again = False  # asked again: a window may have refused the first pair
        self._first_answer = 0.0
        self._tries = 0

    @property
    def sending(self) -> bool:
        """The pair is not all sent yet: its requests go without pacing."""
        return len(self.sends) < 2

    def sent(self, now: float, concurrency: int) -> bool:
        """A request started at `now` during the test; True if it completed the pair."""
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
