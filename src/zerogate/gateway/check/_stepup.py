"""When a deny is really "sign in again, more strongly": step-up (RFC 9470; standards OA-A15).

Two sources, kept simple on purpose:
- the route's own `mfa_max_age_s`, against the session's last second factor;
- a `no_permit` deny whose closest permit failed only on `context.authn` conditions: nothing
  but a stronger or fresher sign-in stands between the user and access. A deny that also needs
  a group, a device or anything else is a plain 403: stepping up could not change it.

A failed `auth_age_s` bound means a new sign-in (the session's `auth_time` only moves then);
failed `mfa` / `amr` / `acr` conditions alone mean a second factor on the current session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from zerogate.gateway.check._authn import Identity
from zerogate.gateway.check._model import RouteSettings
from zerogate.identity.oidc import ACR
from zerogate.policy import Decision, Outcome, PartKind

_AUTHN = "context.authn."
_CONDITIONS = (PartKind.WHEN, PartKind.UNLESS)
_AGE_BOUND = re.compile(r"context\.authn\.auth_age_s\s*(<=?)\s*(\d{1,9})\b")
_PHISHING_RESISTANT = ('"hwk"', '"swk"', ACR.PHISHING_RESISTANT.value)
_SECOND_FACTOR = ("authn.mfa", "authn.amr", "authn.acr")


class StepUpKind(StrEnum):
    MFA = "mfa"  # prove a second factor on the current session
    REAUTHENTICATE = "reauthenticate"  # sign in again: the sign-in itself is too old


@dataclass(frozen=True, slots=True)
class StepUp:
    """What to ask of the user; `acr` and `max_age` become RFC 9470 challenge parameters."""

    kind: StepUpKind
    acr: str | None = None
    max_age: int | None = None


def step_up_for_route(settings: RouteSettings | None, identity: Identity) -> StepUp | None:
    """The route's `mfa_max_age_s` is not met by this identity's last second factor."""
    limit = None if settings is None else settings.mfa_max_age_s
    if limit is None:
        return None
    if identity.mfa_age_s is not None and identity.mfa_age_s <= limit:
        return None
    acr = None if identity.mfa else ACR.MFA.value
    kind = StepUpKind.REAUTHENTICATE if identity.via == "bearer" else StepUpKind.MFA
    return StepUp(kind, acr, limit)


def step_up_for_decision(decision: Decision) -> StepUp | None:
    """The deny would turn into an allow with a stronger or fresher sign-in, or None."""
    explanation = decision.explanation
    if decision.allowed or decision.outcome is not Outcome.NO_PERMIT or explanation is None:
        return None
    if not explanation.closest_permits:
        return None
    failed = explanation.closest_permits[0].failed
    if not failed or any(c.kind not in _CONDITIONS or _AUTHN not in c.text for c in failed):
        return None
    texts = [c.text for c in failed]
    max_age = _max_age(texts)
    fresh = any("auth_age_s" in t for t in texts)
    if any(marker in t for t in texts for marker in _PHISHING_RESISTANT):
        acr: str | None = ACR.PHISHING_RESISTANT.value
    elif any(marker in t for t in texts for marker in _SECOND_FACTOR):
        acr = ACR.MFA.value
    else:
        acr = None
    kind = StepUpKind.REAUTHENTICATE if fresh else StepUpKind.MFA
    return StepUp(kind, acr, max_age)


def _max_age(texts: list[str]) -> int | None:
    """The tightest `auth_age_s < N` / `<= N` bound, as a `max_age` in whole seconds."""
    ages = []
    for text in texts:
        for op, number in _AGE_BOUND.findall(text):
            ages.append(int(number) - (1 if op == "<" else 0))
    return max(0, min(ages)) if ages else None


__all__ = ["StepUp", "StepUpKind", "step_up_for_decision", "step_up_for_route"]
