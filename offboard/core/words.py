"""How an input value, an account and a (account, user) pair are written for a person to
read: once, so that every page, list and line says them the same way."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """An input value as the person wrote it, or `<list>`-style for anything else.

    YAML can put a whole structure (even an alias bomb) where a scalar belongs:
    it is never turned into text, only named.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__}>"


def account_words(account: Any, name: Any = "") -> str:
    """'1000 Acme HQ' (the ID, then the account's `client_company_name`), or '1000' alone
    when the name is unknown: the one way every page, list and line writes an account."""
    shown = "" if account is None else str(account)
    return f"{shown} {name}" if name else shown


def pair_words(account: Any, user: Any, account_name: Any = "") -> str:
    """'account 1000 Acme HQ user 12' for a line a person reads; a part the row lacks is
    left out (an invalid row may have neither, and 'account None' reads as a value)."""
    return " ".join(
        f"{label} {value}"
        for label, value in (
            ("account", account_words(account, account_name) if account is not None else ""),
            ("user", user),
        )
        if value not in (None, "")
    )
