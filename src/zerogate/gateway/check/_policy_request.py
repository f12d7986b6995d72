"""The PDP's question for one check (docs/policy.md schema), and the answer's line for people."""

from __future__ import annotations

from typing import Any

from zerogate.gateway.check._authn import IDP, Identity
from zerogate.gateway.check._model import CheckRequest
from zerogate.gateway.check._peer import trust_domain
from zerogate.policy import Decision, Entity, EntityUID, Outcome, Request


def policy_request(req: CheckRequest, route: str, action: str, identity: Identity) -> Request:
    """The PDP's question (docs/policy.md schema); `time` is filled in by the PDP."""
    p = identity.principal
    uid = principal_uid(identity)
    if identity.via == "peer":
        idp = PEER_IDP
        attrs: dict[str, Any] = {"spiffe_id": p.user_id, "trust_domain": trust_domain(p.user_id)}
    else:
        idp = IDP
        attrs = {"email": p.email, "idp": IDP}
        if p.display_name:
            attrs["name"] = p.display_name
    entity = Entity(uid, attrs, tuple(EntityUID("Group", g) for g in p.groups))
    network: dict[str, Any] = {"ip": req.client_ip, "tls": req.proto == "https"}
    if req.peer_spiffe_id is not None:
        network["peer_spiffe_id"] = req.peer_spiffe_id
    context = {
        "authn": {
            "mfa": identity.mfa,
            "amr": list(identity.amr),
            "auth_age_s": identity.auth_age_s,
            "idp": idp,
            "acr": identity.acr,
        },
        "network": network,
        "risk": {"score": 0, "signals": []},  # no risk engine yet: every request scores 0
    }
    return Request(uid, EntityUID("Action", action), EntityUID("Route", route), context, (entity,))


def principal_uid(identity: Identity) -> EntityUID:
    """`User::"alice"`, or `Workload::"spiffe://..."` for a certificate-only request."""
    kind = "Workload" if identity.via == "peer" else "User"
    return EntityUID(kind, identity.principal.username)


def human_reason(decision: Decision) -> str:
    """One line for the person denied: a policy's `@reason`, never its id, text or location."""
    explanation = decision.explanation
    if decision.outcome is Outcome.POLICY_ERROR or explanation is None:
        return "Access could not be confirmed by policy, so it was denied."
    for policy in (*explanation.forbids[:1], *explanation.closest_permits[:1]):
        if policy.reason:
            text = policy.reason.strip()
            return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
    return "No policy gives you access here."


PEER_IDP = "spiffe"  # context.authn.idp for a workload

__all__ = ["PEER_IDP", "human_reason", "policy_request", "principal_uid"]
