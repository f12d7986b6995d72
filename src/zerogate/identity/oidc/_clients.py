"""The client registry: who may ask us for tokens, and exactly where we send them back."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection

from zerogate.errors import ErrorDetail, NotFound
from zerogate.identity import _tx
from zerogate.identity.oidc import _db
from zerogate.identity.oidc._model import SCOPES, Client, ClientInvalid, NewClient
from zerogate.store import Store

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{3,100}")
_PRIVATE_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+")  # reverse domain (RFC 8252 §7.1)
MAX_URIS = 20
MAX_URI_CHARS = 2000
MAX_NAME_CHARS = 200


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uri_problem(uri: str, *, allow_private_scheme: bool) -> str | None:
    """Why `uri` cannot be registered, or None. Matching later is exact (OAUTH-* redirect rules)."""
    if not uri or len(uri) > MAX_URI_CHARS:
        return f"must be 1..{MAX_URI_CHARS} characters"
    if any(c.isspace() for c in uri) or "*" in uri:
        return "must not contain spaces or wildcards"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a URI"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment (RFC 6749 §3.1.2)"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None  # native apps and local development (RFC 8252 §7.3)
    if allow_private_scheme and _PRIVATE_SCHEME.fullmatch(parts.scheme) and not parts.netloc:
        return None
    return "must be https, http on a loopback address, or a reverse-domain private scheme"


def _check(
    *,
    client_id: str,
    name: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str],
    backchannel_logout_uri: str | None,
    scopes: Sequence[str],
) -> None:
    problems: list[ErrorDetail] = []
    if client_id.startswith(("usr_", "grp_")):
        # OA-A11: a client id must never be mistaken for a user's `sub` (or a group id).
        problems.append(
            ErrorDetail("client_id_invalid", "client_id", "must not look like a user or group id")
        )
    elif not _CLIENT_ID.fullmatch(client_id):
        problems.append(
            ErrorDetail("client_id_invalid", "client_id", "use 3..100 of A-Z a-z 0-9 . _ -")
        )
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        problems.append(
            ErrorDetail("client_name_invalid", "name", f"1..{MAX_NAME_CHARS} characters")
        )
    if not redirect_uris:
        problems.append(
            ErrorDetail("redirect_uri_missing", "redirect_uris", "at least one is required")
        )
    for field, uris in (
        ("redirect_uris", redirect_uris),
        ("post_logout_redirect_uris", post_logout_redirect_uris),
    ):
        if len(uris) > MAX_URIS:
            problems.append(ErrorDetail("too_many_uris", field, f"at most {MAX_URIS}"))
        for i, uri in enumerate(uris):
            problem = uri_problem(uri, allow_private_scheme=True)
            if problem:
                problems.append(ErrorDetail("redirect_uri_invalid", f"{field}[{i}]", problem))
    if backchannel_logout_uri is not None:
        problem = uri_problem(backchannel_logout_uri, allow_private_scheme=False)
        if problem:
            problems.append(ErrorDetail("redirect_uri_invalid", "backchannel_logout_uri", problem))
    if "openid" not in scopes:
        problems.append(ErrorDetail("scope_invalid", "scopes", "must include openid"))
    for scope in scopes:
        if scope not in SCOPES:
            problems.append(
                ErrorDetail(
                    "scope_invalid",
                    "scopes",
                    f"unknown scope {scope!r}; known: {', '.join(SCOPES)}",
                )
            )
    if problems:
        raise ClientInvalid("the client registration is not valid", details=problems)


def check_secret(secret_hash: str | None, presented: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    if secret_hash is None:
        return False
    return hmac.compare_digest(secret_hash, _db.digest(presented))


class ClientRegistry:
    """Register, list, disable and delete relying parties (`zerogate client ...`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self,
        name: str,
        *,
        redirect_uris: Sequence[str],
        public: bool = False,
        client_id: str | None = None,
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        scopes: Sequence[str] = SCOPES,
        consent_required: bool = False,
        now: datetime,
    ) -> NewClient:
        """Register a client; a confidential client's secret is returned once, here.

        Raises ClientInvalid with every problem at once, or Conflict (`client_exists`).
        """
        cid = client_id if client_id is not None else f"zg-{secrets.token_hex(8)}"
        scope_list = tuple(dict.fromkeys(scopes))
        _check(
            client_id=cid,
            name=name,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            scopes=scope_list,
        )
        secret = None if public else secrets.token_urlsafe(32)
        client = Client(
            client_id=cid,
            name=name.strip(),
            public=public,
            redirect_uris=tuple(dict.fromkeys(redirect_uris)),
            post_logout_redirect_uris=tuple(dict.fromkeys(post_logout_redirect_uris)),
            backchannel_logout_uri=backchannel_logout_uri,
            scopes=scope_list,
            consent_required=consent_required,
            created_at=now,
            disabled=False,
        )
        secret_hash = None if secret is None else _db.digest(secret)
        await _tx.write(
            self._store, lambda c: _db.insert_client(c, client, secret_hash=secret_hash)
        )
        return NewClient(client=client, secret=secret)

    async def get(self, client_id: str) -> Client:
        found = await _tx.read(self._store, lambda c: _db.find_client(c, client_id))
        if found is None:
            raise _not_found(client_id)
        return found[0]

    async def list(self) -> list[Client]:
        return await _tx.read(self._store, _db.list_clients)

    async def disable(self, client_id: str, *, now: datetime) -> None:
        """Refuse the client from now on and revoke every grant it holds."""

        def write(conn: Connection) -> None:
            if not _db.set_client_disabled(conn, client_id, now):
                raise _not_found(client_id)
            grants = [g.id for g in _db.grants_of_client(conn, client_id)]
            _db.revoke_grants(conn, grant_ids=grants, reason="client_disabled", now=now)

        await _tx.write(self._store, write)

    async def enable(self, client_id: str) -> None:
        def write(conn: Connection) -> None:
            if not _db.set_client_disabled(conn, client_id, None):
                raise _not_found(client_id)

        await _tx.write(self._store, write)

    async def rotate_secret(self, client_id: str) -> str:
        """A new secret for a confidential client; the old one stops working at once."""
        secret = secrets.token_urlsafe(32)

        def write(conn: Connection) -> None:
            found = _db.find_client(conn, client_id)
            if found is None:
                raise _not_found(client_id)
            if found[0].public:
                raise ClientInvalid("a public client has no secret", code="client_public")
            _db.set_client_secret(conn, client_id, _db.digest(secret))

        await _tx.write(self._store, write)
        return secret

    async def delete(self, client_id: str) -> None:
        def write(conn: Connection) -> None:
            if not _db.delete_client(conn, client_id):
                raise _not_found(client_id)

        await _tx.write(self._store, write)


def _not_found(client_id: str) -> NotFound:
    return NotFound(f"no client {client_id!r}", code="client_not_found")
