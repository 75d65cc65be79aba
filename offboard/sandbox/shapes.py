"""JSON bodies in the shapes of Gcore's published schemas (ClientBase, User, TokenResponse).

Every field the spec marks required is present with a value its type and enum allow, so a
client that validates responses strictly works against the sandbox as it would against Gcore.
"""

from __future__ import annotations

from typing import Any

from offboard.sandbox.state_values import Member, TokenView
from offboard.sandbox.world import ROLE_IDS, World

# Fixed timestamps keep responses reproducible; their values carry no meaning.
CREATED = "2024-01-15T09:30:00.000000Z"
LAST_USAGE = "2024-06-01T08:00:00.000000Z"
EXPIRED_AT = "2024-12-31T23:59:59.000000Z"
SERVICES = ("CDN", "STORAGE", "STREAMING", "DNS", "DDOS", "CLOUD")

Json = dict[str, Any]


def group(role: str) -> Json:
    return {"id": ROLE_IDS[role], "name": role}


def base_user(world: World, member: Member) -> Json:
    """The BaseUser schema, as listed in clients/me `users`."""
    user = member.user
    roles = dict(member.roles)
    # A user's home account: the key's own if they belong to it, else their first one.
    home = world.account if world.account in roles else member.roles[0][0]
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "lang": user.lang,
        "phone": None,
        "company": world.account_name(home),
        "reseller": 1,
        "client": home,
        "deleted": False,
        # `groups` is the user's group in the current (the key's) account only.
        "groups": [group(roles[world.account])] if world.account in roles else [],
        "activated": user.activated,  # False until an invited user follows the e-mailed link
        "sso_auth": False,
        "two_fa": False,
        "auth_types": ["password"],
    }


def user(world: World, member: Member) -> Json:
    """The User schema, as listed by GET /iam/users."""
    return base_user(world, member) | {
        "user_type": "common",
        "is_active": True,
        "client_and_roles": [
            {
                "client_id": account,
                "client_company_name": world.account_name(account),
                "user_id": member.user.id,
                "user_roles": [str(ROLE_IDS[role])],
            }
            for account, role in member.roles
        ],
    }


def client_base(world: World, members: list[Member]) -> Json:
    """The ClientBase schema for GET /iam/clients/me: the key's own account."""
    owner = next((m.user for m in members if m.user.id == world.key_user), None)
    return {
        "id": world.account,
        "users": [base_user(world, member) for member in members],
        "email": owner.email if owner else f"account-{world.account}@sandbox.invalid",
        "phone": None,
        "name": owner.name if owner else None,
        "status": "active",
        "companyName": world.account_name(world.account),
        "website": "",
        "currentUser": world.key_user,
        "capabilities": list(SERVICES),
        "serviceStatuses": {name: {"status": "active", "enabled": True} for name in SERVICES},
        "paidFeatures": {},
        "freeFeatures": {},
        "entryBaseDomain": None,
        "signup_process": None,
        "deleted": False,
        "bill_type": "postpaid",
        "custom_id": None,
        "country_code": "NL",
        "is_test": False,
        "has_active_admin": True,
    }


def token(view: TokenView) -> Json:
    """The TokenResponse schema."""
    t = view.token
    return {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "exp_date": EXPIRED_AT if t.expired else None,  # null: never expires
        "deleted": view.deleted,
        "expired": t.expired,
        "created": CREATED,
        "last_usage": LAST_USAGE,
        "client_user": {
            "deleted": view.deleted,
            "user_id": t.user,
            "user_name": view.issuer.name or "",
            "user_email": view.issuer.email,
            "client_id": t.account,
            "role": group(t.role),
        },
    }
