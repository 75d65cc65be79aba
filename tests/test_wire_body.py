"""http/wire.py reads an answer's body as JSON, else as text: an empty body (a 204) is "" as
it always was, now without raising and catching a JSONDecodeError on every revoke."""

from __future__ import annotations

import pytest

from offboard.http.wire import _json_or_text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ""),
        (b"{}", {}),
        (b'{"message": "x"}', {"message": "x"}),
        (b"[1, 2]", [1, 2]),
        (b"not json", "not json"),
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b"  ", "  "),
    ],
)
def test_a_body_is_json_else_its_text(content: bytes, expected: object) -> None:
    """Each body reads as before the empty-body shortcut (the text of a non-JSON body)."""
    assert _json_or_text(content) == expected
