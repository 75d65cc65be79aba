"""The controller's start behind the run's look-ups (issue 22): the key's user goes alone, then
the list's first page beside the login log, then a page at a time. A window of 2 holding the
first look-up refuses the pair's second just as a spacing limiter would: the pair is asked
again once the window would have rolled, and the cells keep to their 429 budget."""

import sys
from pathlib import Path

import pytest

from offboard.rate.control import AdaptiveController
from offboard.rate.pair import VERDICT_WAIT
from offboard.rate.spacing import SMALL_STEP
from offboard.rate.startup import MARGIN

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from rate_model import Cell, simulate


def test_sw2_behind_the_look_ups_keeps_to_its_429_budget():
    """The shapes section's sw2 in virtual time (a sliding window of 2, --rate 100, 16
    callers, 20 ms, 140 rows and their look-ups): at most 2 429s (the pair's second and the
    check after startup), where main had 5 of 152 (3.3%): the list's second page, then a slow
    start that grew on the look-ups' answers to 8/s and a search down from it."""
    cell = Cell("sliding_window", "seconds", 2, 100, 16, 0.02, 74.0)
    figures = simulate(cell, AdaptiveController, pages=2)
    assert figures.refused <= 2 and figures.share_429 <= 0.02, (figures.refused, figures.requests)
    assert figures.goodput_after >= 0.9


def test_gcra20_behind_the_look_ups_begins_at_the_spacing_they_held():
    """The shapes section's gcra20 in virtual time (20/s, tolerance 5 ms, 13 pages): the
    pair asked again is refused alone, so the limiter spaces requests, and the search starts
    from the 15/s the look-ups were taken at, not a slow start from 2/s: 0.8 L at 3.0 s
    (3.5 s before)."""
    cell = Cell("gcra", "seconds", 20, 100, 16, 0.02, 60.0)
    figures = simulate(cell, AdaptiveController, pages=13)
    assert figures.time_to_08 is not None and round(figures.time_to_08, 1) == 3.0
    assert figures.share_429 <= 0.02 and figures.goodput_after >= 0.9


def _look_ups_then_pair(ctl: AdaptiveController) -> float:
    """The key's user at 0 (taken), the pair at 0.066: its first taken at 0.086, its second
    refused (Retry-After 1) at 0.091. Returns when the pair's 429 came."""
    ctl.sent(0.0)
    ctl.on_answer(0.02, 200, sent_at=0.0)
    ctl.sent(0.066)
    ctl.sent(0.066)
    ctl.on_answer(0.086, 200, sent_at=0.066)
    ctl.on_answer(0.091, 429, 1.0, sent_at=0.066)
    return 0.091


def test_no_start_between_the_pairs_two_answers():
    """One of the pair answered, the other not yet: the next start waits for the verdict (at
    most VERDICT_WAIT), since at --rate it would leave before a window's 429 is in."""
    ctl = AdaptiveController(100, concurrency=16)
    ctl.sent(0.0)
    ctl.sent(0.0)
    ctl.on_answer(0.02, 200, sent_at=0.0)
    assert ctl.next_start(0.03) > 0.03  # --rate alone would let it go at 0.02
    assert ctl.next_start(0.02 + VERDICT_WAIT) == pytest.approx(0.02 + VERDICT_WAIT)
    ctl.on_answer(0.031, 200, sent_at=0.0)
    assert ctl.phase == "startup" and ctl.next_start(0.031) == pytest.approx(0.031)


def test_a_pair_refused_beside_a_look_up_is_asked_again_after_the_window_rolls():
    """A window of 2 that held the key's user refuses the pair's second as GCRA would: no
    verdict yet, everyone waits the 429's Retry-After, and a new pair (nothing else sent
    before its verdict) both taken says the
    first 429 was a window's of 2: cruise under 2 a second from the pair (until the check
    after startup), with no initial window at --rate (whose 429 would be one more)."""
    ctl = AdaptiveController(100, concurrency=16)
    refused = _look_ups_then_pair(ctl)
    assert (ctl.phase, ctl.kind) == ("pair", "")
    resume = refused + 1.0
    assert ctl.next_start(0.1) == pytest.approx(resume)
    ctl.sent(resume)
    ctl.sent(resume)
    assert ctl.next_start(resume + 0.01) > resume + 0.01  # nothing before its verdict
    ctl.on_answer(resume + 0.02, 200, sent_at=resume)
    ctl.on_answer(resume + 0.025, 200, sent_at=resume)
    assert (ctl.phase, ctl.kind) == ("run", "window")
    assert ctl.rate(resume + 1.5) == pytest.approx(MARGIN * 2)
    assert ctl.next_start(resume + 0.03) >= resume + 1.0  # the pair filled the window


def test_a_pair_refused_again_alone_is_a_spacing_limiter_begun_at_the_look_ups_rate():
    """The pair asked again, its second refused with only its first in the last second: a
    spacing limiter, which took the look-ups 66 ms apart: that rate holds (15/s), and the
    search tries a step above it at once."""
    ctl = AdaptiveController(100, concurrency=16)
    resume = _look_ups_then_pair(ctl) + 1.0
    ctl.sent(resume)
    ctl.sent(resume)
    ctl.on_answer(resume + 0.02, 200, sent_at=resume)
    ctl.on_answer(resume + 0.025, 429, 1.0, sent_at=resume)
    assert (ctl.phase, ctl.kind) == ("run", "spacing")
    assert ctl.rate(resume + 0.03) == pytest.approx((1 + SMALL_STEP) / 0.066)
