"""Builders for AuthZEN request bodies against the example bundle (examples/policies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"


def context(*, risk: int = 10, mfa: bool = True) -> dict[str, Any]:
    """A context that satisfies the shipped schema (the PDP adds `time` itself)."""
    return {
        "authn": {"mfa": mfa, "amr": ["pwd", "otp"], "auth_age_s": 60, "idp": "local"},
        "network": {"ip": "10.0.0.1", "tls": True},
        "risk": {"score": risk, "signals": []},
    }


def subject(user: str = "alice", *groups: str) -> dict[str, Any]:
    """A User subject whose entity (email, groups) travels in `properties`."""
    return {
        "type": "User",
        "id": user,
        "properties": {
            "attrs": {"email": f"{user}@example.com"},
            "parents": [{"type": "Group", "id": g} for g in groups or ("engineering",)],
        },
    }


def app(name: str) -> dict[str, Any]:
    return {"type": "App", "id": name}


def evaluation(
    resource: str = "wiki", action: str = "GET", *, risk: int = 10, who: str = "alice"
) -> dict[str, Any]:
    """One Access Evaluation body: by default alice (engineering) reads the wiki."""
    return {
        "subject": subject(who),
        "action": {"name": action},
        "resource": app(resource),
        "context": context(risk=risk),
    }


def locs(body: dict[str, Any]) -> list[str]:
    return [e["loc"] for e in body["errors"]]
