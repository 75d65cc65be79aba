"""The pair test: the run's first two requests go back to back. A spacing limiter (a token
bucket without a burst, GCRA) refuses the second; a window, or a bucket with a burst, takes
both. The rate controller (rate/control.py) asks it once, at the start; the package's
docstring (rate/__init__.py) says why each family then needs its own way to be measured.
"""

from __future__ import annotations

PAIR_GAP = 0.002  # seconds: two starts further apart are no pair (a spacing limiter takes both)
PAIR_TRIES = 3  # the pair test starts over at most this often for that


class PairTest:
    def __init__(self) -> None:
        self.sends: list[float] = []  # send times of the pair
        self.answers: list[bool] = []  # accepted, in the order they came
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

    def answered(self, sent_at: float, accepted: bool) -> str:
        """An answer; returns the verdict once both are in and one was accepted ("window"
        if both, "spacing" if the second was refused), else ""."""
        if sent_at not in self.sends or len(self.answers) >= 2:
            return ""
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
