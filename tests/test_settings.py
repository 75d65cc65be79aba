"""settings: precedence, checks, URL safety and the API key's secrecy."""

import subprocess
import sys

import pytest

from offboard.core.defaults import DEFAULT_BASE_URL
from offboard.core.errors import SettingsError
from offboard.core.settings import (
    Secret,
    check_base_url,
    chosen_base_url,
    is_loopback,
    merge,
    read_api_key,
    redact,
)


def test_command_line_wins_over_job_file_over_defaults():
    """--rate beats the job's rate; the job's concurrency beats the default."""
    merged = merge({"rate": 2, "concurrency": 8}, {"rate": 9.5, "concurrency": None}, "j.yaml")
    assert merged == {
        "rate": 9.5,
        "concurrency": 8,
        "max_attempts": 5,
        "timeout": 30.0,
        "max_consecutive_failures": 10,
    }


@pytest.mark.parametrize(
    ("job", "cli", "words"),
    [
        ({"rate": "fast"}, {}, "j.yaml: rate: must be a number"),
        ({"rate": 0}, {}, "j.yaml: rate: must be greater than 0"),
        ({}, {"rate": -1.0}, "--rate: must be greater than 0"),
        ({}, {"timeout": float("nan")}, "--timeout: must be greater than 0"),
        ({"concurrency": 2.5}, {}, "must be a whole number"),
        ({"max_attempts": True}, {}, "must be a whole number, found bool"),
        ({"concurrency": 100000}, {}, "above the most"),
    ],
)
def test_bad_numbers_name_their_origin(job, cli, words):
    """A bad value says whether it came from the job file or the command line."""
    with pytest.raises(SettingsError, match=words):
        merge(job, cli, "j.yaml")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.gcore.com",
        "http://127.0.0.1:8080",
        "http://localhost:1/",
        "http://[::1]:9",
        "http://127.9.9.9",
    ],
)
def test_allowed_base_urls(url):
    """https anywhere, plain http only to loopback."""
    assert check_base_url(url, "--base-url").startswith("http")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://api.gcore.com", "plain http:// is refused"),
        ("http://10.0.0.5:8080", "plain http:// is refused"),
        ("ftp://x", "must be an https"),
        ("https://user:pw@api.gcore.com", "credentials"),
        ("not a url", "must be an https"),
    ],
)
def test_refused_base_urls(url, words):
    """Non-loopback http, other schemes and URLs with credentials are refused."""
    with pytest.raises(SettingsError, match=words):
        check_base_url(url, "--base-url")


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        ("https://a.example/", {"GCORE_BASE_URL": "https://b.example"}, "https://a.example"),
        (None, {"GCORE_BASE_URL": "https://b.example/"}, "https://b.example"),
        (None, {"GCORE_BASE_URL": ""}, DEFAULT_BASE_URL),
        (None, {}, DEFAULT_BASE_URL),
    ],
)
def test_base_url_is_the_flag_else_the_environment_else_the_default(given, environ, expected):
    """--base-url wins over GCORE_BASE_URL, which wins over the default; each checked."""
    assert chosen_base_url(given, environ) == expected


@pytest.mark.parametrize(
    ("given", "environ", "words"),
    [
        ("http://10.0.0.5", {}, "^--base-url: plain http:// is refused"),
        (None, {"GCORE_BASE_URL": "http://10.0.0.5"}, "^GCORE_BASE_URL: plain http:// is refused"),
    ],
)
def test_a_refused_base_url_names_where_it_came_from(given, environ, words):
    """The flag's URL is refused as --base-url, the environment's as GCORE_BASE_URL."""
    with pytest.raises(SettingsError, match=words):
        chosen_base_url(given, environ)


def test_key_from_env_or_file_and_never_shown(tmp_path):
    """The key is read from GCORE_API_KEY or a file, and a Secret never prints it."""
    key_file = tmp_path / "key"
    key_file.write_text("  77_filesecret\n")
    assert read_api_key(str(key_file), {}).reveal() == "77_filesecret"
    secret = read_api_key(None, {"GCORE_API_KEY": "42$envsecret"})
    assert secret.reveal() == "42$envsecret"
    assert "envsecret" not in f"{secret} {secret!r} {[secret]}"


@pytest.mark.parametrize(
    ("key_file_text", "env", "words"),
    [
        (None, {}, "no API key"),
        ("", {}, "empty"),
        ("42_ab cd", {}, "spaces"),
        ("42_ab\n99_cd", {}, "line breaks"),
    ],
)
def test_bad_keys_are_refused_without_showing_them(tmp_path, key_file_text, env, words):
    """Missing, empty or malformed keys are refused; the message never holds the key."""
    path = None
    if key_file_text is not None:
        path = tmp_path / "key"
        path.write_text(key_file_text)
    with pytest.raises(SettingsError, match=words) as caught:
        read_api_key(str(path) if path else None, env)
    assert "ab" not in str(caught.value).replace("absent", "")


def test_redact_removes_key_and_secret_part():
    """Both the whole key and the part after the separator are blanked."""
    secret = Secret("42_a1b2c3d4e5f6")
    assert redact("x 42_a1b2c3d4e5f6 y a1b2c3d4e5f6", secret) == "x *** y ***"


PLAIN_URLS = [
    "https://api.gcore.com",
    "https://api.gcore.com/",
    "https://api.gcore.com:8443/v2",
    "http://127.0.0.1:8080",
    "http://localhost:1/",
    "http://127.9.9.9",
    "http://10.0.0.5:8080",
    "https://a-b.example/x_y/~z",
]
UNUSUAL_URLS = [
    "HTTPS://API.Gcore.com",
    "https://api.gcore.com:443",
    "http://127.0.0.1:080",
    "https://api.gcore.com/a/../b",
    "https://xn--bcher-kva.example",
    "http://[::1]:9",
    "https://api.gcore.com:99999",
    "https://user:pw@api.gcore.com",
    "https://api.gcore.com/?q=1",
    "https://api.gcore.com/#f",
    "https://bücher.example",
]


@pytest.mark.parametrize("url", PLAIN_URLS + UNUSUAL_URLS)
def test_the_base_url_check_agrees_with_httpx_on_every_url(url):
    """check_base_url answers exactly as httpx's URL parser would (its fast path for plain
    URLs and httpx for the rest): the same URL back, or the same refusal."""
    import httpx

    def by_httpx(url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return "refused: not a URL"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return "refused: scheme"
        if parsed.userinfo or parsed.query or parsed.fragment:
            return "refused: credentials"
        if parsed.scheme == "http" and not is_loopback(parsed.host):
            return "refused: plain http"
        return str(parsed).rstrip("/")

    try:
        got = check_base_url(url, "--base-url")
    except SettingsError as exc:
        got = "refused: " + (
            "not a URL"
            if "not a URL" in str(exc)
            else "scheme"
            if "must be an https" in str(exc)
            else "credentials"
            if "credentials" in str(exc)
            else "plain http"
        )
    assert got == by_httpx(url)


def test_a_plain_base_url_is_checked_without_importing_httpx():
    """httpx (and the CLI libraries its import pulls in) costs ~0.1 s of CPU to import; the
    hot path never needs it, and a plain --base-url is checked without it."""
    code = (
        "import sys\n"
        "from offboard.core.errors import SettingsError\n"
        "from offboard.core.settings import check_base_url\n"
        f"for url in {PLAIN_URLS!r}:\n"
        "    try:\n"
        "        check_base_url(url, '--base-url')\n"
        "    except SettingsError:\n"
        "        pass  # refused (plain http to 10.0.0.5) is an answer too\n"
        "assert 'httpx' not in sys.modules, 'httpx was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
