"""Upstream OpenID Connect federation: sign in with Okta, Entra ID, Google, Keycloak or any OpenID
provider, link the upstream account to a local user, and map its groups.

`Upstreams` is built from `Settings.upstreams` and knows nothing of HTTP frameworks (the web face
in `zerogate.idp` keeps `FederationState` in a signed cookie); it uses httpx as a client only.
ID tokens are checked by `zerogate.tokens.verify`. docs/federation.md describes the flow.
"""

from zerogate.identity.federation._db import FederatedIdentity
from zerogate.identity.federation._flow import MAX_PARAMETER_CHARS, STATE_TTL
from zerogate.identity.federation._metadata import MAX_ID_TOKEN_LIFETIME
from zerogate.identity.federation._model import (
    FEDERATION_ERROR_CODES,
    FederatedLogin,
    FederationFailed,
    FederationFailure,
    FederationState,
    UpstreamChoice,
    UpstreamIdentity,
)
from zerogate.identity.federation._rules import (
    GroupRule,
    claim_values,
    compile_rules,
    managed_groups,
    map_groups,
)
from zerogate.identity.federation._upstream import KEY_REFRESH_INTERVAL
from zerogate.identity.federation._upstreams import FEDERATED_AMR, MFA_AMR_VALUES, Upstreams

__all__ = [
    "FEDERATED_AMR",
    "FEDERATION_ERROR_CODES",
    "KEY_REFRESH_INTERVAL",
    "MAX_ID_TOKEN_LIFETIME",
    "MAX_PARAMETER_CHARS",
    "MFA_AMR_VALUES",
    "STATE_TTL",
    "FederatedIdentity",
    "FederatedLogin",
    "FederationFailed",
    "FederationFailure",
    "FederationState",
    "GroupRule",
    "UpstreamChoice",
    "UpstreamIdentity",
    "Upstreams",
    "claim_values",
    "compile_rules",
    "managed_groups",
    "map_groups",
]
