"""The sandbox's limiter models over real HTTP: `faults.rate_limit` as a shape's mapping, its
validation, and `offboard sandbox --rate-limit SPEC`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from offboard.cli.main import cli
from offboard.cli.serve_sandbox import serve_scenario
from offboard.core.errors import SettingsError
from offboard.sandbox import Sandbox, SandboxError, demo_world
from offboard.sandbox.demo import DEMO_WORLD_PATH
from offboard.sandbox.faults import FaultInjector
from offboard.sandbox.scenario_limits import parse_rate_limit

from .test_sandbox import client, small_world

ME = "/iam/clients/me"


def statuses(c: httpx.Client, n: int) -> list[int]:
    return [c.get(ME).status_code for _ in range(n)]


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def first_then(c: httpx.Client, n: int) -> tuple[list[int], float]:
    """n requests' statuses, and the moment the first one's answer came back: the server saw
    that request before this moment, so a wait timed from it is at least as long at the
    server (timed from before asking, a slow first connection on a busy machine shortened
    it and the limiter still refused)."""
    first = c.get(ME).status_code
    answered = time.monotonic()
    return [first, *statuses(c, n - 1)], answered


def test_an_integer_rate_limit_is_still_the_sliding_one_second_window() -> None:
    with Sandbox(small_world(rate_limit=3, retry_after=2)) as sb, client(sb) as c:
        answers, first = first_then(c, 4)
        assert answers == [200, 200, 200, 429]
        time.sleep(0.5)
        assert statuses(c, 1) == [429]
        sleep_until(first + 1.1)
        answer = c.get(ME)
    assert answer.status_code == 200


def test_token_bucket_admits_its_burst_then_refills_at_its_rate() -> None:
    """burst 5, rate 2: five at once, then the sixth waits for a token (0.5 s)."""
    spec = {"shape": "token_bucket", "rate": 2, "burst": 5}
    with Sandbox(small_world(rate_limit=spec)) as sb, client(sb) as c:
        answers = [c.get(ME)]
        # The bucket refills from the first request's arrival, before this moment: 0.55 s
        # after it at least 1.1 tokens are back (as in first_then, which gives no headers).
        first_answered = time.monotonic()
        answers += [c.get(ME) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[5].headers["retry-after"] == "1"
        sleep_until(first_answered + 0.55)
        assert statuses(c, 2) == [200, 429]


def test_token_bucket_of_20_with_burst_5_holds_about_one_per_50_ms() -> None:
    """Hammered for a second: the burst, then refills at 20/s, not five per second or more."""
    spec = {"shape": "token_bucket", "rate": 20, "burst": 5}
    with Sandbox(small_world(rate_limit=spec)) as sb, client(sb) as c:
        started = time.monotonic()
        accepted = 0
        while time.monotonic() - started < 1.0:
            accepted += c.get(ME).status_code == 200
        elapsed = time.monotonic() - started
    # The sandbox started before `started`, so it may have refilled a little more than that.
    assert 12 <= accepted <= 5 + 20 * (elapsed + 0.1), accepted


def test_fixed_window_resets_on_the_second_boundary() -> None:
    """Three in each window [k, k + 1) s since the sandbox started: three more are accepted
    just after the boundary though the last three were accepted 0.55 s before."""
    with (
        Sandbox(small_world(rate_limit={"shape": "fixed_window", "rate": 3})) as sb,
        client(sb) as c,
    ):
        t0 = time.monotonic()  # the sandbox started before this
        sleep_until(t0 + 0.5)
        assert statuses(c, 4) == [200, 200, 200, 429]
        sleep_until(t0 + 1.05)
        assert statuses(c, 4) == [200, 200, 200, 429]


def test_sliding_window_counts_any_second() -> None:
    with (
        Sandbox(small_world(rate_limit={"shape": "sliding_window", "rate": 3})) as sb,
        client(sb) as c,
    ):
        answers, first = first_then(c, 4)
        assert answers == [200, 200, 200, 429]
        sleep_until(first + 0.6)
        assert statuses(c, 1) == [429]
        sleep_until(first + 1.1)
        assert statuses(c, 1) == [200]


def test_gcra_spaces_requests_by_its_interval() -> None:
    """rate 2, no tolerance: one per 500 ms, no burst at all."""
    with Sandbox(small_world(rate_limit={"shape": "gcra", "rate": 2})) as sb, client(sb) as c:
        answers, first = first_then(c, 2)
        assert answers == [200, 429]
        sleep_until(first + 0.55)
        assert statuses(c, 2) == [200, 429]


def test_gcra_tolerance_allows_that_much_earliness() -> None:
    spec = {"shape": "gcra", "rate": 2, "tolerance": 1.0}
    with Sandbox(small_world(rate_limit=spec)) as sb, client(sb) as c:
        assert statuses(c, 5) == [200, 200, 200, 429, 429]


def test_changing_limit_follows_its_schedule_from_the_sandbox_start() -> None:
    """2 a second, then 50 a second from 0.6 s after the sandbox started."""
    spec = {"shape": "changing", "schedule": [[0, 2], [0.6, 50]]}
    with Sandbox(small_world(rate_limit=spec)) as sb, client(sb) as c:
        t0 = time.monotonic()
        assert statuses(c, 3) == [200, 200, 429]
        sleep_until(t0 + 0.7)
        assert statuses(c, 10) == [200] * 10


def test_changing_limit_within_a_token_bucket() -> None:
    spec = {
        "shape": "changing",
        "within": "token_bucket",
        "burst": 2,
        "schedule": [[0, 1], [30, 100]],
    }
    with Sandbox(small_world(rate_limit=spec)) as sb, client(sb) as c:
        assert statuses(c, 3) == [200, 200, 429]


# -- the 429's hint: faults.rate_limit.hint ---------------------------------------------------

# One request per 2.5 s: the second, sent at once, waits just under 2.5 s (3 whole seconds).
SLOW_GCRA = {"shape": "gcra", "rate": 0.4}


def refused(spec: object, retry_after: int = 7) -> httpx.Response:
    """The 429 answering a second request sent at once under the limiter of `spec`."""
    with Sandbox(small_world(rate_limit=spec, retry_after=retry_after)) as sb, client(sb) as c:
        assert c.get(ME).status_code == 200
        answer = c.get(ME)
    assert answer.status_code == 429, answer
    return answer


def test_hint_seconds_gives_the_models_wait_in_whole_seconds_rounded_up() -> None:
    answer = refused({**SLOW_GCRA, "hint": "seconds"})
    assert answer.headers["retry-after"] == "3"
    assert "retry-after-ms" not in answer.headers
    assert answer.json()["message"] == "Request was throttled. Expected available in 3 seconds."


def test_a_mapping_without_hint_gives_the_models_wait_not_the_worlds_retry_after() -> None:
    answer = refused(SLOW_GCRA, retry_after=7)
    assert answer.headers["retry-after"] == "3"


def test_hint_ms_gives_retry_after_ms_only() -> None:
    answer = refused({**SLOW_GCRA, "hint": "ms"})
    assert "retry-after" not in answer.headers
    assert 2000 < int(answer.headers["retry-after-ms"]) <= 2500
    assert answer.json()["message"] == "Request was throttled. Expected available in 3 seconds."


def test_hint_none_gives_no_hint_at_all() -> None:
    """No header, and no figure in the message either (a client must manage without)."""
    answer = refused({**SLOW_GCRA, "hint": "none"})
    assert "retry-after" not in answer.headers and "retry-after-ms" not in answer.headers
    assert answer.json()["message"] == "Request was throttled."


@pytest.mark.parametrize(
    ("hint", "headers"),
    [("seconds", {"retry-after": "1"}), ("ms", {"retry-after-ms": "1"}), ("none", {})],
)
def test_a_tiny_wait_is_still_a_hint_of_one_second_or_one_millisecond(
    hint: str, headers: dict[str, str]
) -> None:
    """Never a hint of 0, which would invite the client straight back into the refusal."""
    now = [0.0]
    spec = {"shape": "token_bucket", "rate": 1000, "burst": 1, "hint": hint}
    faults = FaultInjector(small_world(rate_limit=spec).faults, clock=lambda: now[0])
    assert faults.admit()
    now[0] = 0.00099999
    assert not faults.admit()
    assert faults.throttle_hint()[0] == headers


def test_an_integer_rate_limit_still_answers_the_worlds_retry_after() -> None:
    """`rate_limit: N` keeps the sandbox's old answer: the world's fixed figure, not the wait."""
    with Sandbox(small_world(rate_limit=1, retry_after=7)) as sb, client(sb) as c:
        answers = [c.get(ME) for _ in range(2)]
    assert answers[1].status_code == 429
    assert answers[1].headers["retry-after"] == "7"
    assert "retry-after-ms" not in answers[1].headers
    assert answers[1].json()["message"] == (
        "Request was throttled. Expected available in 7 seconds."
    )


@pytest.mark.parametrize(
    ("rate_limit", "message"),
    [
        (0, "faults.rate_limit: must be >= 1, got 0"),
        ("fast", "faults.rate_limit: expected an integer, got str 'fast'"),
        (
            {"rate": 20},
            "faults.rate_limit.shape: expected one of token_bucket, fixed_window, "
            "sliding_window, gcra, changing, got NoneType None",
        ),
        ({"shape": "cone", "rate": 20}, "faults.rate_limit.shape: expected one of"),
        ({"shape": "token_bucket"}, "faults.rate_limit.rate: required key is missing"),
        ({"shape": "token_bucket", "rate": 0}, "faults.rate_limit.rate: must be a positive number"),
        (
            {"shape": "token_bucket", "rate": 20, "burst": -1},
            "faults.rate_limit.burst: must be a positive number, got -1",
        ),
        ({"shape": "token_bucket", "rate": "x"}, "faults.rate_limit.rate: expected a number"),
        (
            {"shape": "fixed_window", "rate": 5, "burst": 2},
            "faults.rate_limit.burst: unknown key (allowed: hint, rate, shape)",
        ),
        (
            {"shape": "token_bucket", "rate": 5, "hint": "sec"},
            "faults.rate_limit.hint: expected one of seconds, ms, none, got str 'sec'",
        ),
        (
            {"shape": "gcra", "rate": 5, "hint": 1000},
            "faults.rate_limit.hint: expected one of seconds, ms, none, got int 1000",
        ),
        (
            {"shape": "changing", "schedule": [[0, 5]], "hint": ["ms"]},
            "faults.rate_limit.hint: expected one of seconds, ms, none, got list ['ms']",
        ),
        (
            {"shape": "gcra", "rate": 5, "tolerance": -0.1},
            "faults.rate_limit.tolerance: must be >= 0",
        ),
        ({"shape": "changing", "rate": 5}, "faults.rate_limit.rate: unknown key"),
        ({"shape": "changing"}, "faults.rate_limit.schedule: required key is missing"),
        (
            {"shape": "changing", "schedule": []},
            "faults.rate_limit.schedule: expected at least one",
        ),
        (
            {"shape": "changing", "schedule": [[0, 5], [0, 2]]},
            "faults.rate_limit.schedule[1][0]: must be later than 0, got 0",
        ),
        (
            {"shape": "changing", "schedule": [[0, 5, 1]]},
            "faults.rate_limit.schedule[0]: expected a [from seconds, rate] pair",
        ),
        (
            {"shape": "changing", "schedule": [[0, 0]]},
            "faults.rate_limit.schedule[0][1]: must be a positive number",
        ),
        (
            {"shape": "changing", "schedule": [[0, 5]], "within": "changing"},
            "faults.rate_limit.within: expected one of token_bucket, fixed_window, sliding_window, "
            "gcra",
        ),
    ],
)
def test_bad_rate_limits_name_the_key(rate_limit: Any, message: str) -> None:
    with pytest.raises(SandboxError) as caught:
        small_world(rate_limit=rate_limit)
    assert str(caught.value).startswith(f"test: {message}"), str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20", 20),
        (" 7 ", 7),
        ("token_bucket:rate=20,burst=5", {"shape": "token_bucket", "rate": 20.0, "burst": 5.0}),
        ("fixed_window:rate=50", {"shape": "fixed_window", "rate": 50.0}),
        ("sliding_window:rate=20", {"shape": "sliding_window", "rate": 20.0}),
        ("gcra:rate=20,tolerance=0.1", {"shape": "gcra", "rate": 20.0, "tolerance": 0.1}),
        (
            "changing:schedule=0:20/10:5/30:20",
            {
                "shape": "changing",
                "within": "sliding_window",
                "schedule": ((0.0, 20.0), (10.0, 5.0), (30.0, 20.0)),
            },
        ),
        (
            "changing:schedule=0:20/10:5,within=token_bucket,burst=5",
            {
                "shape": "changing",
                "within": "token_bucket",
                "burst": 5.0,
                "schedule": ((0.0, 20.0), (10.0, 5.0)),
            },
        ),
        (
            "token_bucket:rate=20,burst=5,hint=ms",
            {"shape": "token_bucket", "rate": 20.0, "burst": 5.0, "hint": "ms"},
        ),
        ("gcra:rate=2,hint=none", {"shape": "gcra", "rate": 2.0, "hint": "none"}),
    ],
)
def test_rate_limit_option_syntax(text: str, expected: object) -> None:
    parsed = parse_rate_limit(text)
    assert (parsed if isinstance(parsed, int) else dict(parsed)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "--rate-limit: must be >= 1, got 0"),
        ("fast", "--rate-limit: expected an integer or SHAPE:KEY=VALUE,..."),
        ("token_bucket", "--rate-limit: rate: required key is missing"),
        ("token_bucket:rate=0", "--rate-limit: rate: must be a positive number"),
        ("token_bucket:rate=x", "--rate-limit: rate: expected a number, got 'x'"),
        ("token_bucket:rate=2,bust=3", "--rate-limit: bust: unknown key"),
        ("token_bucket:rate", "--rate-limit: expected KEY=VALUE, got 'rate'"),
        ("changing:schedule=0-20", "--rate-limit: schedule: expected FROM:RATE pairs"),
        (
            "token_bucket:rate=2,hint=millis",
            "--rate-limit: hint: expected one of seconds, ms, none, got str 'millis'",
        ),
        ("gcra:rate=2,hint=", "--rate-limit: hint: expected one of seconds, ms, none, got str ''"),
    ],
)
def test_bad_rate_limit_option(text: str, message: str) -> None:
    with pytest.raises(SandboxError) as caught:
        parse_rate_limit(text)
    assert str(caught.value).startswith(message), str(caught.value)


# `offboard sandbox --rate-limit SPEC` lands in cli/main.py with its README paragraph (a test
# holds every option to being documented there); until then the tests below drive
# serve_scenario, which that option calls, and the option's own tests skip.
HAS_OPTION = any("--rate-limit" in p.opts for p in cli.commands["sandbox"].params)
DEMO_HEADERS = {"Authorization": f"APIKey {demo_world().api_key}"}


def start_serving(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise AssertionError(f"no URL: {line!r} {proc.communicate(timeout=5)}")
    return proc, line.rsplit(" ", 1)[1].strip()


def check_token_bucket_of_1_burst_2(command: list[str]) -> None:
    proc, url = start_serving(command)
    try:
        with httpx.Client(base_url=url, headers=DEMO_HEADERS, timeout=5) as c:
            assert statuses(c, 3) == [200, 200, 429]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


SERVE = (
    "import sys; from offboard.cli.serve_sandbox import serve_scenario; "
    "sys.exit(serve_scenario(0, None, sys.argv[1]))"
)


def test_serve_scenario_rate_limit_overrides_the_world() -> None:
    check_token_bucket_of_1_burst_2([sys.executable, "-c", SERVE, "token_bucket:rate=1,burst=2"])


def test_serve_scenario_refuses_a_bad_rate_limit() -> None:
    with pytest.raises(SettingsError, match="--rate-limit: rate: must be a positive number"):
        serve_scenario(0, None, "gcra:rate=-1")


def test_serve_scenario_rate_limit_hint_ms_over_http() -> None:
    """`--rate-limit gcra:rate=0.4,hint=ms`: the 429 carries retry-after-ms, no Retry-After."""
    proc, url = start_serving([sys.executable, "-c", SERVE, "gcra:rate=0.4,hint=ms"])
    try:
        with httpx.Client(base_url=url, headers=DEMO_HEADERS, timeout=5) as c:
            answers = [c.get(ME) for _ in range(2)]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert [a.status_code for a in answers] == [200, 429]
    assert "retry-after" not in answers[1].headers
    assert 2000 < int(answers[1].headers["retry-after-ms"]) <= 2500


def test_serve_scenario_refuses_a_bad_hint_in_the_option_and_in_the_world_file(
    tmp_path: Path,
) -> None:
    """One line naming the field, from `--rate-limit` and from a `--scenario` world file."""
    with pytest.raises(SettingsError) as caught:
        serve_scenario(0, None, "token_bucket:rate=2,hint=soon")
    assert str(caught.value) == (
        "--rate-limit: hint: expected one of seconds, ms, none, got str 'soon'"
    )
    world = yaml.safe_load(DEMO_WORLD_PATH.read_text(encoding="utf-8"))
    world["faults"] = {
        "rate_limit": {"shape": "token_bucket", "rate": 20, "burst": 5, "hint": "soon"}
    }
    scenario = tmp_path / "world.yaml"
    scenario.write_text(yaml.safe_dump(world))
    with pytest.raises(SettingsError) as caught:
        serve_scenario(0, str(scenario))
    assert str(caught.value) == (
        f"{scenario}: faults.rate_limit.hint: expected one of seconds, ms, none, got str 'soon'"
    )
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(not HAS_OPTION, reason="--rate-limit is not on the sandbox command yet")
def test_sandbox_command_rate_limit_overrides_the_world() -> None:
    check_token_bucket_of_1_burst_2(
        [
            sys.executable,
            "-m",
            "offboard",
            "sandbox",
            "--port",
            "0",
            "--rate-limit",
            "token_bucket:rate=1,burst=2",
        ]
    )


@pytest.mark.skipif(not HAS_OPTION, reason="--rate-limit is not on the sandbox command yet")
def test_sandbox_command_refuses_a_bad_rate_limit() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "offboard",
            "sandbox",
            "--port",
            "0",
            "--rate-limit",
            "gcra:rate=-1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--rate-limit: rate: must be a positive number" in done.stderr
