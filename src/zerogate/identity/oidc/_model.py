"""The OpenID Connect provider's vocabulary: clients, settings, assurance levels, HTTP in and out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from zerogate.errors import ZerogateError

# Scopes we understand; a client's allowlist is a subset. `openid` is required on every request.
SCOPES = ("openid", "profile", "email", "groups")
MAX_ACCESS_TOKEN_LIFETIME_S = 600  # issue 3: access tokens are at most 10 minutes


class ACR(StrEnum):
    """Authentication context classes we assert in `acr`, weakest first (OIDC Core §2)."""

    PASSWORD = "urn:zerogate:acr:pwd"  # noqa: S105 - one factor, not a password
    MFA = "urn:zerogate:acr:mfa"  # two factors (TOTP, recovery code or a passkey after password)
    PHISHING_RESISTANT = "urn:zerogate:acr:phr"  # a WebAuthn passkey (RFC 8176 hwk/swk)

    @property
    def rank(self) -> int:
        return list(ACR).index(self)


def acr_of(amr: tuple[str, ...], *, mfa: bool) -> ACR:
    """The strongest class a session's methods reach."""
    if "hwk" in amr or "swk" in amr:
        return ACR.PHISHING_RESISTANT
    return ACR.MFA if mfa else ACR.PASSWORD


@dataclass(frozen=True, slots=True)
class Client:
    """A registered relying party. Secrets are stored hashed and never come back out."""

    client_id: str
    name: str
    public: bool  # no secret: authenticates with PKCE alone (token_endpoint_auth_method none)
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    scopes: tuple[str, ...]
    consent_required: bool
    created_at: datetime
    disabled: bool

    @property
    def auth_method(self) -> str:
        return "none" if self.public else "client_secret_basic"


@dataclass(frozen=True, slots=True)
class NewClient:
    """A just-registered client and its secret (None for public clients): shown once."""

    client: Client
    secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Lifetimes and the issuer; `issuer` is the public URL clients discover us at."""

    issuer: str
    access_token_lifetime_s: int = 300
    id_token_lifetime_s: int = 300
    code_lifetime_s: int = 60
    refresh_token_lifetime_s: int = 86_400  # idle: each rotation starts a new one
    grant_lifetime_s: int = 7 * 86_400  # absolute: a family ends this long after sign-in
    refresh_jitter: float = 0.2  # advice: refresh after expires_in * (1 - U(0, jitter)) * 0.8

    def __post_init__(self) -> None:
        if not 0 < self.access_token_lifetime_s <= MAX_ACCESS_TOKEN_LIFETIME_S:
            raise ValueError("access_token_lifetime_s must be 1..600")
        if not 0 < self.code_lifetime_s <= 600:
            raise ValueError("code_lifetime_s must be 1..600 (RFC 6749 §4.1.2)")
        if not 0 < self.refresh_token_lifetime_s <= self.grant_lifetime_s:
            raise ValueError("refresh_token_lifetime_s must be positive and <= grant_lifetime_s")
        if not 0 <= self.refresh_jitter < 1:
            raise ValueError("refresh_jitter must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class OIDCRequest:
    """An HTTP request as the provider needs it, whatever the web framework."""

    method: str
    url: str  # the full URL as the client used it (scheme and host from the public URL)
    headers: Mapping[str, str]  # lower-case names
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OIDCResponse:
    """What to send back: status, headers and a body (already encoded)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


class LoginNeed(StrEnum):
    """Why the authorization endpoint sends the browser to the login pages first."""

    LOGIN = "login"  # no session
    REAUTHENTICATE = "reauthenticate"  # prompt=login or max_age exceeded
    STEP_UP = "step_up"  # acr_values ask for more than the session has


@dataclass(frozen=True, slots=True)
class LoginRequired:
    """Send the browser to log in (or step up), then back to `return_to` (a relative URL)."""

    need: LoginNeed
    return_to: str
    acr: ACR | None = None  # the class asked for, when stepping up


@dataclass(frozen=True, slots=True)
class ConsentRequired:
    """A third-party client asks for scopes the user has not yet approved."""

    client: Client
    scopes: tuple[str, ...]
    return_to: str


class OIDCError(ZerogateError):
    """A request the provider refuses without redirecting (unknown client, bad redirect URI)."""

    code = "oidc_request_invalid"
    status = 400


class ClientInvalid(ZerogateError):
    """A client registration that is not acceptable; details say what and where."""

    code = "client_invalid"
    status = 400


__all__ = [
    "ACR",
    "MAX_ACCESS_TOKEN_LIFETIME_S",
    "SCOPES",
    "Client",
    "ClientInvalid",
    "ConsentRequired",
    "LoginNeed",
    "LoginRequired",
    "NewClient",
    "OIDCError",
    "OIDCRequest",
    "OIDCResponse",
    "ProviderSettings",
    "acr_of",
]
