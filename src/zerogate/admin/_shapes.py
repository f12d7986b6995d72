"""The JSON shape of each thing the admin API returns (the OpenAPI schemas describe the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zerogate.audit import secret_kind
from zerogate.identity import ActiveSession, Group, User
from zerogate.identity.oidc import Client

WITHHELD = "[withheld: looked like a credential]"


def iso(at: datetime) -> str:
    return at.isoformat()


def user_status(user: User, now: datetime) -> str:
    if user.disabled:
        return "disabled"
    return "locked" if user.locked(now=now) else "active"


def user_json(user: User, groups: list[str], now: datetime) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "status": user_status(user, now),
        "has_password": user.has_password,
        "groups": groups,
        "created_at": iso(user.created_at),
    }


def group_json(group: Group, members: list[str]) -> dict[str, Any]:
    return {"name": group.name, "description": group.description, "members": members}


def session_json(session: ActiveSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "username": session.username,
        "created_at": iso(session.created_at),
        "last_seen_at": iso(session.last_seen_at),
        "expires_at": iso(session.expires_at),
        "auth_time": iso(session.auth_time),
        "amr": list(session.amr),
        "mfa": session.mfa_at is not None,
        "ip": session.ip,
        "user_agent": session.user_agent,
    }


def client_json(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "redirect_uris": list(client.redirect_uris),
        "scopes": list(client.scopes),
        "disabled": client.disabled,
        "created_at": iso(client.created_at),
    }


def safe_text(value: str) -> str:
    """Free text an admin typed, fit for the audit log: a value that looks like a credential
    (a pasted token) is withheld rather than refused, so the action still goes ahead."""
    return value if secret_kind(value) is None else WITHHELD


__all__ = [
    "WITHHELD",
    "client_json",
    "group_json",
    "iso",
    "safe_text",
    "session_json",
    "user_json",
    "user_status",
]
