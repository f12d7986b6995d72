"""Is an access token of ours still backed by a live grant? For resource servers (the gateway)."""

from __future__ import annotations

from datetime import datetime

from zerogate.identity import _tx
from zerogate.identity.oidc import _db
from zerogate.store import Store
from zerogate.tokens import VerifiedToken


class GrantStatus:
    """`await status(token, now=...)`: True while the token's grant is neither revoked nor over.

    Revocation (logout, RFC 7009, refresh reuse, a disabled client) ends a grant at once, so a
    verified-but-revoked access token is refused within one store read, not at its expiry.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def __call__(self, token: VerifiedToken, /, *, now: datetime) -> bool:
        grant_id = token.claims.get("gid")
        if not isinstance(grant_id, str):
            return False
        grant = await _tx.read(self._store, lambda conn: _db.find_grant(conn, grant_id))
        return grant is not None and grant.revoked_at is None and grant.expires_at > now
