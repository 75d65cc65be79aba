"""retry.retry_after and read_retry_after: every header value has a defined reading, none raises.

The api-level consequences (the waits taken, the notes) are in test_api.py."""

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offboard.http.retry import RETRY_AFTER_CAP, read_retry_after, retry_after

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def http_date(offset: timedelta) -> str:
    return format_datetime(NOW + offset, usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("  3 ", 3.0),  # surrounding whitespace is not part of the value
        (http_date(timedelta(seconds=30)), 30.0),
    ],
)
def test_usable_retry_after_is_read_as_seconds(value, seconds):
    """Seconds or an HTTP date, nothing ignored."""
    hint = read_retry_after({"retry-after": value}, NOW)
    assert hint.seconds == pytest.approx(seconds) and hint.ignored == ""


def test_a_date_in_the_past_means_now():
    """Only the server's clock is behind (or ours ahead): retry at once, no note."""
    hint = read_retry_after({"retry-after": http_date(-timedelta(days=3))}, NOW)
    assert (hint.seconds, hint.ignored) == (0.0, "")
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("-3", "'-3'"),
        ("-0.5", "'-0.5'"),
        ("nan", "'nan'"),
        ("NaN", "'NaN'"),
        ("inf", "'inf'"),
        ("-inf", "'-inf'"),
        ("1e400", "'1e400'"),  # a float overflow is infinite
        ("soon", "'soon'"),
        ("", "''"),
        ("   ", "''"),
        ("1,2", "'1,2'"),  # two Retry-After headers joined by the HTTP client
        ("Fri, 99 Foo 2026 99:99:99 GMT", "'Fri, 99 Foo 2026 99:99:99 GMT'"),
        ("скоро", "'скоро'"),
        ("\x00\x1b[31m", "'\\x00\\x1b[31m'"),  # shown escaped, never raw in a log line
    ],
)
def test_an_unusable_retry_after_is_ignored_as_if_absent_and_named(value, shown):
    """Negative, NaN, infinite or garbage: no hint (the caller backs off as without one),
    and a note naming the value."""
    hint = read_retry_after({"retry-after": value}, NOW)
    assert hint.seconds is None
    assert hint.ignored == f"ignored an unusable Retry-After ({shown})"
    assert retry_after({"retry-after": value}, NOW) is None


def test_a_long_unusable_value_is_cut_short_in_the_note():
    hint = read_retry_after({"retry-after": "x" * 5000})
    assert hint.seconds is None and len(hint.ignored) < 80 and "..." in hint.ignored


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", ""])
def test_an_unusable_retry_after_ms_is_ignored_and_retry_after_used_instead(value):
    hint = read_retry_after({"retry-after-ms": value, "retry-after": "2"})
    assert hint.seconds == 2.0
    assert hint.ignored == f"ignored an unusable retry-after-ms ({value!r})"
    alone = read_retry_after({"retry-after-ms": value})
    assert (alone.seconds, alone.ignored) == (None, hint.ignored)


def test_both_unusable_are_named_in_one_note():
    hint = read_retry_after({"retry-after-ms": "abc", "retry-after": "soon"})
    assert hint.seconds is None
    assert hint.ignored == "ignored an unusable retry-after-ms ('abc') and Retry-After ('soon')"


def test_retry_after_ms_wins_and_absent_headers_say_nothing():
    assert read_retry_after({"retry-after-ms": "250", "retry-after": "9"}).seconds == 0.25
    hint = read_retry_after({})
    assert (hint.seconds, hint.ignored) == (None, "")


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"retry-after": "7200"}, 7200.0),
        ({"retry-after": str(10**12)}, 1e12),
        ({"retry-after": "99999999999999999999"}, 1e20),
        ({"retry-after": "1e308"}, 1e308),
        ({"retry-after-ms": "1e308"}, 1e305),
        ({"retry-after": http_date(timedelta(days=365))}, 365 * 86400.0),
    ],
)
def test_an_absurdly_long_retry_after_is_kept_as_the_servers_figure(headers, at_least):
    """Finite and over the cap: returned as is; http/api.py fails the row, naming it."""
    seconds = read_retry_after(headers, NOW).seconds
    assert seconds is not None and math.isfinite(seconds)
    assert seconds > RETRY_AFTER_CAP and seconds == pytest.approx(at_least)


@given(ms=st.one_of(st.none(), st.text()), seconds=st.one_of(st.none(), st.text()))
def test_no_header_value_raises(ms, seconds):
    """Any text in either header: None or a finite, non-negative number of seconds."""
    headers = {
        name: value
        for name, value in (("retry-after-ms", ms), ("retry-after", seconds))
        if value is not None
    }
    hint = read_retry_after(headers, NOW)
    assert hint.seconds is None or (math.isfinite(hint.seconds) and hint.seconds >= 0)
    assert "\n" not in hint.ignored
