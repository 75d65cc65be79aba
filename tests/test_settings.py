"""settings: precedence, checks, URL safety and the API key's secrecy."""

import pytest

from offboard.core.defaults import DEFAULT_BASE_URL
from offboard.core.errors import SettingsError
from offboard.core.settings import (
    Secret,
    check_base_url,
    chosen_base_url,
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
