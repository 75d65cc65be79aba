"""The controller's start behind the run's look-ups (issue 22): the key's user goes alone, then
the list's first page beside the login log, then a page at a time. A window of 2 holding the
first look-up refuses the pair's second just as a spacing limiter would: one request at the
look-ups' spacing tells them apart (a second sooner than asking the pair again once the window
rolled), and the cells keep to their 429 budget."""

import sys
from pathlib import Path

import pytest

from offboard.rate.control import AdaptiveController
from offboard.rate.pair import QUESTION_LATE, QUESTION_SPACING, VERDICT_WAIT
from offboard.rate.spacing import JITTER_HELD, SMALL_STEP, WIDEN
from offboard.rate.startup import BETA, MARGIN

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


def test_gcra20_behind_the_look_ups_asks_a_question_not_the_pair_again():
    """The shapes section's gcra20 in virtual time (20/s, tolerance 5 ms, 13 pages): the
    pair's second refused beside the key's user, one request at the look-ups' spacing is
    taken, so the limiter spaces requests, and the search starts under the rate the
    look-ups held, with no second's pause for a window to roll: 0.8 L at 2.2 s (3.0 s when
    the pair was asked again, 3.5 s with a slow start from 2/s)."""
    cell = Cell("gcra", "seconds", 20, 100, 16, 0.02, 60.0)
    figures = simulate(cell, AdaptiveController, pages=13)
    assert figures.time_to_08 is not None and round(figures.time_to_08, 1) == 2.2
    assert figures.share_429 <= 0.02 and figures.goodput_after >= 0.9


def _look_ups_then_pair(
    ctl: AdaptiveController, first: float = 0.066, second: float = 0.066
) -> float:
    """The key's user at 0 (taken), the pair sent at `first` and `second`: its first taken
    20 ms later, its second refused (Retry-After 1) 25 ms after `first` (0.091 by default).
    Returns when the pair's 429 came."""
    ctl.sent(0.0)
    ctl.on_answer(0.02, 200, sent_at=0.0)
    ctl.sent(first)
    ctl.sent(second)
    refused = round(first + 0.025, 6)
    ctl.on_answer(round(first + 0.02, 6), 200, sent_at=first)
    ctl.on_answer(refused, 429, 1.0, sent_at=second)
    return refused


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


def test_a_pair_refused_beside_a_look_up_asks_one_question_not_a_seconds_pause():
    """A window of 2 that held the key's user refuses the pair's second as GCRA would: no
    pause for the window to roll (a second on the run's critical path), but one request
    at the look-ups' own spacing after the pair's first, nothing else before its answer."""
    ctl = AdaptiveController(100, concurrency=16)
    refused = _look_ups_then_pair(ctl)
    assert (ctl.phase, ctl.kind) == ("pair", "")
    ask = 0.066 + QUESTION_SPACING * 0.066
    assert ctl.next_start(refused) == pytest.approx(ask)
    ctl.sent(ask)
    assert ctl.next_start(ask + 0.01) > ask + 0.01  # nothing before its answer


def test_a_question_refused_is_a_window_of_the_pairs_count():
    """The question refused (the window still holds the key's user and the pair's first):
    a window of 2, cruised under from its Retry-After, with no check after startup (the
    question's 429 was it: sw2's 148 requests allow two)."""
    ctl = AdaptiveController(100, concurrency=16)
    _look_ups_then_pair(ctl)
    ask = 0.066 + QUESTION_SPACING * 0.066
    ctl.sent(ask)
    ctl.on_answer(ask + 0.02, 429, 1.0, sent_at=ask)
    assert (ctl.phase, ctl.kind) == ("run", "window")
    assert ctl.next_start(ask + 0.03) >= ask + 1.02  # the window rolls first
    assert ctl.rate(ask + 3.0) == pytest.approx(MARGIN * 2)
    assert ctl.rate(ask + 10.0) == pytest.approx(MARGIN * 2)  # no check after startup


def test_a_question_taken_is_a_spacing_limiter_begun_under_the_look_ups_rate():
    """The question taken at the look-ups' spacing while the pair's second was refused: a
    spacing limiter. The one gap it took may be a tolerance's, so the search starts at
    BETA of that rate (15/s x 0.9), its first step above that, not above 15/s."""
    ctl = AdaptiveController(100, concurrency=16)
    _look_ups_then_pair(ctl)
    ask = 0.066 + QUESTION_SPACING * 0.066
    ctl.sent(ask)
    ctl.on_answer(ask + 0.02, 200, sent_at=ask)
    assert (ctl.phase, ctl.kind) == ("run", "spacing")
    assert ctl.rate(ask + 0.03) == pytest.approx(BETA * (1 + SMALL_STEP) / 0.066)


def test_a_question_no_caller_sent_in_time_is_none_the_pair_is_asked_again():
    """No request was ready for the question (a sliding window may roll meanwhile, and take
    it as a spacing limiter would): the next start waits until the pair's 429 is over, and
    a pair asked again, both taken, is a window of the first pair's count."""
    ctl = AdaptiveController(100, concurrency=16)
    refused = _look_ups_then_pair(ctl)
    late = 0.066 + QUESTION_SPACING * 0.066 + QUESTION_LATE + 0.01
    resume = refused + 1.0
    assert ctl.next_start(late) == pytest.approx(resume)
    ctl.sent(resume)
    ctl.sent(resume)
    ctl.on_answer(resume + 0.02, 200, sent_at=resume)
    ctl.on_answer(resume + 0.025, 200, sent_at=resume)
    assert (ctl.phase, ctl.kind) == ("run", "window")
    assert ctl.rate(resume + 1.5) == pytest.approx(MARGIN * 2)


def test_a_rate_proved_on_a_tolerances_credit_then_refused_widens_to_widen_not_half():
    """GCRA at 20/s with 5 ms of tolerance takes 20.25/s for 8 requests, so the search
    proves it (6) and is refused at it next: the lower bound drops to WIDEN of that rate,
    not to half of it (2.6 s back up at 20/s in the simulation)."""
    ctl = AdaptiveController(100, concurrency=16)
    _look_ups_then_pair(ctl)
    ask = 0.066 + QUESTION_SPACING * 0.066
    ctl.sent(ask)
    ctl.on_answer(ask + 0.02, 200, sent_at=ask)
    ctl._lo = ctl._hi = 20.25  # proved, and the search's bound above it is that rate too
    ctl._spaced_refusal(20.25)
    assert ctl._lo == pytest.approx(WIDEN * 20.25)


def test_a_pair_5_ms_apart_on_a_busy_machine_is_still_a_pair():
    """The list's first page and the login log leave 5 ms apart (a busy machine): still the
    pair (a spacing limiter that takes two 5 ms apart is at 200/s or more), so its refused
    second beside the key's user asks the question, where a 2 ms bound made the log a lone
    request refused outright: a second's pause, a new pair, and an initial window whose 429s
    cost sw2 two more (4 of 149)."""
    ctl = AdaptiveController(100, concurrency=16)
    _look_ups_then_pair(ctl, 0.043, 0.048)
    assert (ctl.phase, ctl.kind) == ("pair", "")
    assert ctl.next_start(0.07) == pytest.approx(0.043 + QUESTION_SPACING * 0.043)


def test_a_429_after_a_spacing_cruise_held_5_s_moves_no_bound():
    """Behind GCRA a rate over the limit is refused within its tolerance's credit, so a 429
    at a cruise that held JITTER_HELD is two arrivals bunched (a busy machine), not the
    rate: the bounds stay; a second one within JITTER_HELD lowers them as before."""
    ctl = AdaptiveController(100, concurrency=16)
    _look_ups_then_pair(ctl)
    ask = 0.066 + QUESTION_SPACING * 0.066
    ctl.sent(ask)
    ctl.on_answer(ask + 0.02, 200, sent_at=ask)
    ctl._lo, ctl._hi = 19.0, 19.5  # settled: cruising at 19/s since 1.0
    ctl._search(1.0)
    at = 1.0 + JITTER_HELD + 0.5
    ctl.sent(at)
    ctl.on_answer(at + 0.02, 429, 1.0, sent_at=at)
    assert (ctl._lo, ctl._hi) == (19.0, 19.5) and ctl.rate(at + 0.1) == pytest.approx(19.0)
    ctl.sent(at + 1.0)
    ctl.on_answer(at + 1.02, 429, 1.0, sent_at=at + 1.0)
    assert ctl._hi == pytest.approx(19.0)
