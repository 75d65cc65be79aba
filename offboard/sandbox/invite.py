"""POST /iam/clients/invite_user (iamInviteUser): check an InviteUserRequest, then invite.

Answers follow the spec's InviteUserError. Field problems are a ValidationError, `{"errors":
{field: [message]}}`, every bad field at once and worded as Django REST framework words them
(the framework behind Gcore's IAM answers); a user already in the account is the array form
`["User N has already been invited to client M"]`; a body that is not JSON is the
JSONParseError shape, `{"message": "JSON parse error - ..."}`.

The body is checked before permission, because the account is in the body: a `client_id` the
world does not have is a field error (400, as a DRF primary-key field says it), while an
account that exists but that the key does not administer is 403, decided as for DELETE.
Stricter than DRF on purpose: `client_id` must be a JSON integer (DRF would take "1000"), so
a client that sends the wrong type fails here rather than only in production.
"""

from __future__ import annotations

import json
import re
from typing import Any

from offboard.sandbox.exchange import FORBIDDEN, Request, Response, error, json_response
from offboard.sandbox.state import State
from offboard.sandbox.state_values import Invite
from offboard.sandbox.world import LANGUAGES, ROLE_IDS, World

REQUIRED = "This field is required"  # sic, no full stop: the spec's example for this endpoint
NOT_NULL = "This field may not be null."
BAD_EMAIL = "Enter a valid email address."
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def invite_user(state: State, request: Request) -> Response:
    try:
        # An empty body is no data at all, as DRF reads it: every required field is missing.
        data = json.loads(request.body) if request.body.strip() else {}
    except ValueError as exc:  # UnicodeDecodeError included
        return error(400, f"JSON parse error - {exc}")
    if not isinstance(data, dict):
        problem = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        return json_response(400, {"errors": {"non_field_errors": [problem]}})
    errors: dict[str, list[str]] = {}
    email = _email(data, errors)
    role = _role(data, errors)
    account = _account(data, state.world, errors)
    lang = _lang(data, errors)
    name = _name(data, errors)
    if errors or email is None or role is None or account is None:
        return json_response(400, {"errors": errors})
    invited = state.invite(account, email, role, name, lang)
    if invited.outcome is Invite.FORBIDDEN:
        return error(403, FORBIDDEN)
    if invited.outcome is Invite.ALREADY_MEMBER:
        return json_response(
            400, [f"User {invited.user} has already been invited to client {account}"]
        )
    return json_response(200, {"status": "sent", "user_id": invited.user}, applied=True)


def _present(data: dict[str, Any], field: str, errors: dict[str, list[str]]) -> bool:
    """Whether `field` has a value to check; records the error when it is missing or null."""
    if field not in data:
        errors[field] = [REQUIRED]
        return False
    if data[field] is None:
        errors[field] = [NOT_NULL]
        return False
    return True


def _email(data: dict[str, Any], errors: dict[str, list[str]]) -> str | None:
    if not _present(data, "email", errors):
        return None
    value = data["email"]
    if isinstance(value, str) and not value.strip():
        errors["email"] = ["This field may not be blank."]
    elif not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        errors["email"] = [BAD_EMAIL]
    else:
        return value.strip()
    return None


def _role(data: dict[str, Any], errors: dict[str, list[str]]) -> str | None:
    """The group a `Group` object names by id, by name or by both (which must agree)."""
    if not _present(data, "user_role", errors):
        return None
    value = data["user_role"]
    if not isinstance(value, dict):
        errors["user_role"] = [
            f"Invalid data. Expected a dictionary, but got {type(value).__name__}."
        ]
        return None
    # Keys other than id and name are dropped, as by a DRF nested serializer.
    found: str | None = None
    if "id" in value:
        by_id = {role_id: name for name, role_id in ROLE_IDS.items()}
        found = by_id.get(value["id"]) if _is_int(value["id"]) else None
        if found is not None and "name" in value and value["name"] != found:
            found = None  # an id and a name that disagree
    elif isinstance(value.get("name"), str) and value["name"] in ROLE_IDS:
        found = value["name"]
    if found is not None:
        return found
    given = [(key, value[key]) for key in ("id", "name") if key in value]
    # Gcore's own wording (UserRoleValidationError's example), OrderedDict and all.
    errors["user_role"] = [f"Invalid role: OrderedDict({given!r})"[:200]]
    return None


def _account(data: dict[str, Any], world: World, errors: dict[str, list[str]]) -> int | None:
    if not _present(data, "client_id", errors):
        return None
    value = data["client_id"]
    if not _is_int(value):
        errors["client_id"] = ["A valid integer is required."]
        return None
    if value not in {a.id for a in world.accounts}:
        errors["client_id"] = [f'Invalid pk "{value}" - object does not exist.']
        return None
    return int(value)


def _lang(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    value = data.get("lang", "en")
    if value is None:
        errors["lang"] = [NOT_NULL]
    elif not isinstance(value, str) or value not in LANGUAGES:
        shown = value if isinstance(value, str | int | float) else type(value).__name__
        errors["lang"] = [f'"{shown}" is not a valid choice.'[:200]]
    else:
        return value
    return "en"


def _name(data: dict[str, Any], errors: dict[str, list[str]]) -> str | None:
    value = data.get("name")  # null is allowed: the spec's UserName is nullable
    if value is not None and not isinstance(value, str):
        errors["name"] = ["Not a valid string."]
        return None
    return value


def _is_int(value: object) -> bool:
    # bool is an int subclass; `true` is not an id.
    return isinstance(value, int) and not isinstance(value, bool)
