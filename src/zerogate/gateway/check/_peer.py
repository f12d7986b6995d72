"""The client certificate's identity, as Envoy vouches for it: a SPIFFE ID from `XFCC`.

With a client CA configured, Envoy verifies a presented certificate during the handshake and,
set to `SANITIZE_SET`, replaces any `x-forwarded-client-cert` header with one describing that
certificate (`By=...;Hash=...;URI=spiffe://...`), or removes it when there is none. The edge
strip removes every client `x-forwarded-*` header too. So the header the check sees is Envoy's,
and its `URI` is the certificate's URI SAN. A SPIFFE X.509-SVID has exactly one URI SAN (SPIFFE
X509-SVID §2); anything else gives no peer identity rather than a guess.
"""

from __future__ import annotations

import re

XFCC_HEADER = "x-forwarded-client-cert"
MAX_XFCC_CHARS = 4096
# spiffe://trust-domain/path (SPIFFE ID §2): a lower-case trust domain, a non-empty path of
# segments of letters, digits, '.', '-' and '_', no '.'/'..' segments, no query or fragment.
_SPIFFE_ID = re.compile(r"spiffe://([a-z0-9._-]{1,255})((?:/[A-Za-z0-9._-]+)+)")


def peer_spiffe_id(xfcc: str | None) -> str | None:
    """The SPIFFE ID of the verified client certificate Envoy describes, or None."""
    if not xfcc or len(xfcc) > MAX_XFCC_CHARS or "," in xfcc or '"' in xfcc:
        return None  # one element, no quoted values: what our Envoy writes (URI details only)
    uris = [
        value
        for key, sep, value in (part.partition("=") for part in xfcc.split(";"))
        if sep and key.strip() == "URI"
    ]
    if len(uris) != 1:
        return None
    match = _SPIFFE_ID.fullmatch(uris[0].strip())
    if match is None or any(s in (".", "..") for s in match.group(2).split("/")[1:]):
        return None
    return match.group(0)


def trust_domain(spiffe_id: str) -> str:
    return spiffe_id.removeprefix("spiffe://").split("/", 1)[0]
