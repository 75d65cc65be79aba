"""The Jinja2 filters of the report pages: how one value is written into report.html or
summary.txt (escaped and given line-break chances on the page; wrapped at WIDTH, control
characters made visible and commands kept pasteable in the text).

Apart from pages.py, which decides what the pages say: these decide only how a single value
looks, each a small pure function of its input, so they can be read and tested on their own.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

WIDTH = 100  # summary.txt: every line fits a mail client and an 100-column terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BREAK_AFTER = re.compile(r"([@./])")  # where an email, ID or path may wrap on the page
# In a message: a time or an option (--delete-tokens), which a browser would break after `-`
_WHOLE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?|--[a-z][a-z-]*")


def plain(value: Any) -> str:
    """A value as it is: '' for none, true/false as in the CSV files."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def option(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "none"
    return plain(value) or "none"


def href(name: str) -> str:
    """A relative link to a report file: never a scheme (javascript:) nor another host."""
    return "./" + quote(str(name))


def breakable(value: Any) -> Markup:
    """The value escaped, with a line-break chance (<wbr>) after each `@`, `.` and `/`: an
    email, ID or path then wraps between its parts, never inside one."""
    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", str(escape(plain(value)))))


def words(value: Any) -> Markup:
    """Free text escaped, each time and option in it kept on one line."""
    return Markup(_WHOLE.sub(r'<span class="nw">\g<0></span>', str(escape(plain(value)))))


def visible(value: Any) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", plain(value))


def fill(value: Any, indent: str = "", hanging: str | None = None) -> str:
    """Text wrapped at WIDTH, the first line after `indent`, the rest after `hanging`."""
    return (
        "\n".join(
            textwrap.wrap(
                visible(value),
                WIDTH,
                initial_indent=indent,
                subsequent_indent=indent if hanging is None else hanging,
                break_on_hyphens=False,
            )
        )
        or indent.rstrip()
    )


def shell(command: str, indent: str = "") -> str:
    """A command wrapped at WIDTH between its words with ` \\`, so it still pastes as one."""
    try:
        words = [shlex.quote(word) for word in shlex.split(command)]
    except ValueError:
        return indent + visible(command)
    lines = [indent]
    for word in map(visible, words):
        if lines[-1].strip() and len(lines[-1]) + 1 + len(word) > WIDTH - 2:
            lines.append(indent + "    ")
        lines[-1] += (" " if lines[-1].strip() else "") + word
    return " \\\n".join(lines)
