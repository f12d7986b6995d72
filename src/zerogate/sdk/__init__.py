"""For applications behind the Zerogate gateway: trust the identity it signs, not the network.

`verify_assertion(token, keys=..., issuer=..., audience=...)` checks the `x-zerogate-assertion`
header; `AssertionMiddleware` does it for every request of an ASGI app, fetching keys from the
IdP's `/jwks.json`; `require_assertion(request)` gives handlers the verified `Assertion`.
"""

from zerogate.sdk._assertion import (
    ASSERTION_HEADER,
    Assertion,
    verify_assertion,
    verify_decision_token,
)
from zerogate.sdk._keys import RemoteKeys
from zerogate.sdk._middleware import AssertionMiddleware, require_assertion

__all__ = [
    "ASSERTION_HEADER",
    "Assertion",
    "AssertionMiddleware",
    "RemoteKeys",
    "require_assertion",
    "verify_assertion",
    "verify_decision_token",
]
