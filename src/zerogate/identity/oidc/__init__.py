"""The OpenID Connect provider, on authlib's server components, free of any web framework.

`OIDCProvider` answers the standard endpoints from `OIDCRequest`s (the web face in
`zerogate.idp` translates HTTP to and from them); `ClientRegistry` manages relying parties.
Tokens are signed by `zerogate.tokens.issue` with the rotating ES256 key ring.
"""

from zerogate.identity.oidc._clients import ClientRegistry
from zerogate.identity.oidc._discovery import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    END_SESSION_PATH,
    INTROSPECT_PATH,
    JWKS_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from zerogate.identity.oidc._logout import EndSession, LogoutNotice
from zerogate.identity.oidc._model import (
    ACR,
    MAX_ACCESS_TOKEN_LIFETIME_S,
    SCOPES,
    Client,
    ClientInvalid,
    ConsentRequired,
    LoginNeed,
    LoginRequired,
    NewClient,
    OIDCError,
    OIDCRequest,
    OIDCResponse,
    ProviderSettings,
)
from zerogate.identity.oidc._provider import (
    Authorization,
    OIDCProvider,
    ProviderKeys,
    revoke_grants_for_sessions,
)
from zerogate.identity.oidc._status import GrantStatus

__all__ = [
    "ACR",
    "AUTHORIZE_PATH",
    "DISCOVERY_PATH",
    "END_SESSION_PATH",
    "INTROSPECT_PATH",
    "JWKS_PATH",
    "MAX_ACCESS_TOKEN_LIFETIME_S",
    "REVOKE_PATH",
    "SCOPES",
    "TOKEN_PATH",
    "USERINFO_PATH",
    "Authorization",
    "Client",
    "ClientInvalid",
    "ClientRegistry",
    "ConsentRequired",
    "EndSession",
    "GrantStatus",
    "LoginNeed",
    "LoginRequired",
    "LogoutNotice",
    "NewClient",
    "OIDCError",
    "OIDCProvider",
    "OIDCRequest",
    "OIDCResponse",
    "ProviderKeys",
    "ProviderSettings",
    "revoke_grants_for_sessions",
]
