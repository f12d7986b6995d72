"""The identity provider's web face: server-rendered sign-in, second factor, TOTP enrolment, sign-out.

`create_app(...)` builds a Starlette app over the identity API (`Directory`, `Sessions`, `TOTP`,
`RecoveryCodes`); docs/login.md describes the pages and their security properties. Other faces
that need a signed-in user (the OpenID Connect endpoints) send the browser to `login_path(next)`
or, for a fresh second factor, to `mfa_path(next)`.
"""

from zerogate.idp._app import create_app
from zerogate.idp._config import LoginConfig
from zerogate.idp._continue import CONTINUE_PATH, continue_path
from zerogate.idp._csrf import CSRF_COOKIE_NAME
from zerogate.idp._federation_routes import (
    FEDERATION_COOKIE_NAME,
    UPSTREAM_LOGIN_PREFIX,
    federation_routes,
    upstream_login_path,
)
from zerogate.idp._oidc_routes import TokenRequests
from zerogate.idp._pending import PENDING_COOKIE_NAME
from zerogate.idp._redirects import login_path, mfa_path, safe_next
from zerogate.idp._return_origins import ReturnOrigins
from zerogate.idp._security import SecurityEvent, SecurityEventKind, SecurityEvents

__all__ = [
    "CONTINUE_PATH",
    "CSRF_COOKIE_NAME",
    "FEDERATION_COOKIE_NAME",
    "PENDING_COOKIE_NAME",
    "UPSTREAM_LOGIN_PREFIX",
    "LoginConfig",
    "ReturnOrigins",
    "SecurityEvent",
    "SecurityEventKind",
    "SecurityEvents",
    "TokenRequests",
    "continue_path",
    "create_app",
    "federation_routes",
    "login_path",
    "mfa_path",
    "safe_next",
    "upstream_login_path",
]
