"""Shared builders for PDP tests: the example bundle and requests with valid contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zerogate.clock import FixedClock
from zerogate.policy import (
    PDP,
    Bundle,
    CompiledBundle,
    DecisionCache,
    Entity,
    EntityUID,
    Request,
    compile_bundle,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def example_bundle() -> CompiledBundle:
    return compile_bundle(Bundle.from_dir(EXAMPLES))


def context(**overrides: Any) -> dict[str, Any]:
    """A valid request context: MFA'd user on a compliant device, low risk."""
    base: dict[str, Any] = {
        "authn": {"mfa": True, "amr": ["pwd", "otp"], "auth_age_s": 60, "idp": "zerogate"},
        "network": {"ip": "198.51.100.7", "tls": True},
        "risk": {"score": 5, "signals": []},
        "device": {
            "id": "dev-1",
            "compliant": True,
            "managed": True,
            "os": "macos",
            "os_version": "15.1",
            "disk_encrypted": True,
            "screen_lock": True,
            "posture_age_s": 120,
        },
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def user(uid: str, *groups: str, email: str | None = None) -> Entity:
    return Entity(
        EntityUID("User", uid),
        {"email": email or f"{uid}@example.test"},
        tuple(EntityUID("Group", g) for g in groups),
    )


def request(
    who: Entity | EntityUID,
    action: str,
    resource: str,
    ctx: dict[str, Any] | None = None,
    *,
    with_entity: bool = True,
) -> Request:
    entity = who if isinstance(who, Entity) else None
    principal = who.uid if isinstance(who, Entity) else who
    return Request(
        principal=principal,
        action=EntityUID("Action", action),
        resource=EntityUID("Route", resource),
        context=ctx if ctx is not None else context(),
        entities=(entity,) if entity is not None and with_entity else (),
    )


def pdp(bundle: CompiledBundle | None = None, *, cache: bool = False, **kw: Any) -> PDP:
    clock = kw.pop("clock", FixedClock())
    dc = DecisionCache(clock=clock, ttl_s=15.0) if cache else None
    return PDP(bundle or example_bundle(), clock=clock, cache=dc, **kw)
