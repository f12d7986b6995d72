"""The check service: authenticates each proxied request, asks the PDP, and answers the proxy.

`Checker` is the framework-free core (`check(CheckRequest) -> CheckResult`, failing closed);
`create_app` is its Envoy ext_authz HTTP face, `start_grpc_check_server` its ext_authz gRPC face,
and `create_forward_auth_app` the face for nginx `auth_request`, Caddy `forward_auth` and Traefik
ForwardAuth. See docs/check.md.
"""

from zerogate.gateway.check._assertion import (
    ASSERTION_HEADER,
    MAX_ASSERTION_LIFETIME,
    AssertionSigner,
)
from zerogate.gateway.check._authn import TokenStatus
from zerogate.gateway.check._caches import MAX_SESSION_TTL_S, SessionCache
from zerogate.gateway.check._checker import ACTIONS, Checker
from zerogate.gateway.check._decision_tokens import DecisionTokens
from zerogate.gateway.check._edge import ROUTE_HEADER
from zerogate.gateway.check._ext_authz import create_app
from zerogate.gateway.check._ext_authz_grpc import GRPCCheckServer, start_grpc_check_server
from zerogate.gateway.check._forward_auth import create_forward_auth_app
from zerogate.gateway.check._handoff import HANDOFF_PATH, HOST_COOKIE, HostSessions
from zerogate.gateway.check._middleware import CheckMiddleware, CheckWSGIMiddleware
from zerogate.gateway.check._model import (
    MAX_STALE_S,
    CheckRecord,
    CheckRequest,
    CheckResult,
    DecisionRecorder,
    RouteSettings,
    Verdict,
)
from zerogate.gateway.check._replay_store import StoreReplayCache
from zerogate.gateway.check._responses import DECISION_ID_HEADER, UPSTREAM_HEADERS
from zerogate.gateway.check._stale import STALE_HEADER
from zerogate.gateway.check._webhooks import (
    MAX_WEBHOOK_BODY_BYTES,
    WEBHOOK_HEADER,
    ReplayCache,
    VerifiedWebhook,
    WebhookRejected,
    WebhookVerifier,
)

__all__ = [
    "ACTIONS",
    "ASSERTION_HEADER",
    "DECISION_ID_HEADER",
    "HANDOFF_PATH",
    "HOST_COOKIE",
    "MAX_ASSERTION_LIFETIME",
    "MAX_SESSION_TTL_S",
    "MAX_STALE_S",
    "MAX_WEBHOOK_BODY_BYTES",
    "ROUTE_HEADER",
    "STALE_HEADER",
    "UPSTREAM_HEADERS",
    "WEBHOOK_HEADER",
    "AssertionSigner",
    "CheckMiddleware",
    "CheckRecord",
    "CheckRequest",
    "CheckResult",
    "CheckWSGIMiddleware",
    "Checker",
    "DecisionRecorder",
    "DecisionTokens",
    "GRPCCheckServer",
    "HostSessions",
    "ReplayCache",
    "RouteSettings",
    "SessionCache",
    "StoreReplayCache",
    "TokenStatus",
    "Verdict",
    "VerifiedWebhook",
    "WebhookRejected",
    "WebhookVerifier",
    "create_app",
    "create_forward_auth_app",
    "start_grpc_check_server",
]
