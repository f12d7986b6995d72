"""Queries for the provider's tables; every secret value is looked up by its SHA-256 only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from zerogate._types import UserID
from zerogate.errors import Conflict
from zerogate.identity.oidc._model import ACR, Client
from zerogate.store import (
    oauth_clients,
    oauth_codes,
    oauth_consents,
    oauth_grants,
    oauth_refresh_tokens,
)


def digest(value: str) -> str:
    """The stored form of a random secret (code, refresh token, client secret): SHA-256 hex."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


# Clients


def _to_client(row: Row[Any]) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        public=row.secret_hash is None,
        redirect_uris=tuple(json.loads(row.redirect_uris)),
        post_logout_redirect_uris=tuple(json.loads(row.post_logout_redirect_uris)),
        backchannel_logout_uri=row.backchannel_logout_uri,
        scopes=tuple(row.scopes.split()),
        consent_required=bool(row.consent_required),
        created_at=row.created_at,
        disabled=row.disabled_at is not None,
    )


def insert_client(conn: Connection, client: Client, *, secret_hash: str | None) -> None:
    try:
        conn.execute(
            insert(oauth_clients).values(
                client_id=client.client_id,
                name=client.name,
                secret_hash=secret_hash,
                redirect_uris=json.dumps(list(client.redirect_uris)),
                post_logout_redirect_uris=json.dumps(list(client.post_logout_redirect_uris)),
                backchannel_logout_uri=client.backchannel_logout_uri,
                scopes=" ".join(client.scopes),
                consent_required=client.consent_required,
                created_at=client.created_at,
                disabled_at=None,
            )
        )
    except IntegrityError:
        raise Conflict(
            f"a client with id {client.client_id!r} already exists", code="client_exists"
        ) from None


def find_client(conn: Connection, client_id: str) -> tuple[Client, str | None] | None:
    """The client and its secret hash."""
    row = conn.execute(select(oauth_clients).where(oauth_clients.c.client_id == client_id)).first()
    return None if row is None else (_to_client(row), row.secret_hash)


def list_clients(conn: Connection) -> list[Client]:
    rows = conn.execute(select(oauth_clients).order_by(oauth_clients.c.client_id))
    return [_to_client(r) for r in rows]


def set_client_disabled(conn: Connection, client_id: str, at: datetime | None) -> bool:
    query = update(oauth_clients).where(oauth_clients.c.client_id == client_id)
    return conn.execute(query.values(disabled_at=at)).rowcount == 1


def set_client_secret(conn: Connection, client_id: str, secret_hash: str) -> bool:
    query = update(oauth_clients).where(oauth_clients.c.client_id == client_id)
    return conn.execute(query.values(secret_hash=secret_hash)).rowcount == 1


def delete_client(conn: Connection, client_id: str) -> bool:
    query = delete(oauth_clients).where(oauth_clients.c.client_id == client_id)
    return conn.execute(query).rowcount == 1


# Authorization codes


@dataclass(frozen=True, slots=True)
class CodeRow:
    """A stored authorization code (the code itself is never stored)."""

    code_hash: str
    client_id: str
    user_id: UserID
    session_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: ACR
    expires_at: datetime
    used_at: datetime | None
    grant_id: str | None


def insert_code(conn: Connection, code: CodeRow, *, now: datetime) -> None:
    conn.execute(
        insert(oauth_codes).values(
            code_hash=code.code_hash,
            client_id=code.client_id,
            user_id=code.user_id,
            session_id=code.session_id,
            redirect_uri=code.redirect_uri,
            scope=code.scope,
            nonce=code.nonce,
            code_challenge=code.code_challenge,
            auth_time=code.auth_time,
            amr=json.dumps(list(code.amr)),
            acr=code.acr.value,
            created_at=now,
            expires_at=code.expires_at,
            used_at=None,
            grant_id=None,
        )
    )


def find_code(conn: Connection, code_hash: str) -> CodeRow | None:
    row = conn.execute(select(oauth_codes).where(oauth_codes.c.code_hash == code_hash)).first()
    if row is None:
        return None
    return CodeRow(
        code_hash=row.code_hash,
        client_id=row.client_id,
        user_id=UserID(row.user_id),
        session_id=row.session_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        auth_time=row.auth_time,
        amr=tuple(json.loads(row.amr)),
        acr=ACR(row.acr),
        expires_at=row.expires_at,
        used_at=row.used_at,
        grant_id=row.grant_id,
    )


def claim_code(conn: Connection, code_hash: str, *, now: datetime) -> bool:
    """Mark a code used; True only for the one caller that got it first (single use)."""
    query = update(oauth_codes).where(
        oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at.is_(None)
    )
    return conn.execute(query.values(used_at=now)).rowcount == 1


def link_code(conn: Connection, code_hash: str, grant_id: str) -> None:
    query = update(oauth_codes).where(oauth_codes.c.code_hash == code_hash)
    conn.execute(query.values(grant_id=grant_id))


def delete_expired_codes(conn: Connection, *, before: datetime) -> int:
    return conn.execute(delete(oauth_codes).where(oauth_codes.c.expires_at < before)).rowcount


# Grants (refresh-token families)


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: str
    client_id: str
    user_id: UserID
    session_id: str
    scope: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: ACR
    expires_at: datetime
    revoked_at: datetime | None


def insert_grant(conn: Connection, grant: GrantRow, *, now: datetime) -> None:
    conn.execute(
        insert(oauth_grants).values(
            id=grant.id,
            client_id=grant.client_id,
            user_id=grant.user_id,
            session_id=grant.session_id,
            scope=grant.scope,
            auth_time=grant.auth_time,
            amr=json.dumps(list(grant.amr)),
            acr=grant.acr.value,
            created_at=now,
            expires_at=grant.expires_at,
        )
    )


def _to_grant(row: Row[Any]) -> GrantRow:
    return GrantRow(
        id=row.id,
        client_id=row.client_id,
        user_id=UserID(row.user_id),
        session_id=row.session_id,
        scope=row.scope,
        auth_time=row.auth_time,
        amr=tuple(json.loads(row.amr)),
        acr=ACR(row.acr),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def find_grant(conn: Connection, grant_id: str) -> GrantRow | None:
    row = conn.execute(select(oauth_grants).where(oauth_grants.c.id == grant_id)).first()
    return None if row is None else _to_grant(row)


def revoke_grants(
    conn: Connection,
    *,
    grant_ids: Sequence[str] = (),
    session_ids: Sequence[str] = (),
    user_id: str | None = None,
    reason: str,
    now: datetime,
) -> list[GrantRow]:
    """Revoke grants by id, by login session or by user; returns those newly revoked."""
    query = select(oauth_grants).where(oauth_grants.c.revoked_at.is_(None))
    if grant_ids:
        query = query.where(oauth_grants.c.id.in_(list(grant_ids)))
    elif session_ids:
        query = query.where(oauth_grants.c.session_id.in_(list(session_ids)))
    elif user_id is not None:
        query = query.where(oauth_grants.c.user_id == user_id)
    else:
        return []
    found = [_to_grant(r) for r in conn.execute(query)]
    if found:
        conn.execute(
            update(oauth_grants)
            .where(
                oauth_grants.c.id.in_([g.id for g in found]), oauth_grants.c.revoked_at.is_(None)
            )
            .values(revoked_at=now, revoked_reason=reason[:100])
        )
    return found


# Refresh tokens


@dataclass(frozen=True, slots=True)
class RefreshRow:
    token_hash: str
    grant_id: str
    expires_at: datetime
    used_at: datetime | None


def insert_refresh(
    conn: Connection, *, token_hash: str, grant_id: str, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(oauth_refresh_tokens).values(
            token_hash=token_hash, grant_id=grant_id, created_at=now, expires_at=expires_at
        )
    )


def find_refresh(conn: Connection, token_hash: str) -> RefreshRow | None:
    query = select(oauth_refresh_tokens).where(oauth_refresh_tokens.c.token_hash == token_hash)
    row = conn.execute(query).first()
    if row is None:
        return None
    return RefreshRow(row.token_hash, row.grant_id, row.expires_at, row.used_at)


def claim_refresh(conn: Connection, token_hash: str, *, now: datetime) -> bool:
    """Mark a refresh token used (rotated); True only for the first caller."""
    query = update(oauth_refresh_tokens).where(
        oauth_refresh_tokens.c.token_hash == token_hash, oauth_refresh_tokens.c.used_at.is_(None)
    )
    return conn.execute(query.values(used_at=now)).rowcount == 1


# Consents


def consented_scopes(conn: Connection, user_id: str, client_id: str) -> set[str]:
    query = select(oauth_consents.c.scope).where(
        oauth_consents.c.user_id == user_id, oauth_consents.c.client_id == client_id
    )
    scope = conn.execute(query).scalar()
    return set(scope.split()) if scope else set()


def save_consent(
    conn: Connection, user_id: str, client_id: str, scopes: set[str], *, now: datetime
) -> None:
    conn.execute(
        delete(oauth_consents).where(
            oauth_consents.c.user_id == user_id, oauth_consents.c.client_id == client_id
        )
    )
    conn.execute(
        insert(oauth_consents).values(
            user_id=user_id, client_id=client_id, scope=" ".join(sorted(scopes)), created_at=now
        )
    )


def grants_of_client(conn: Connection, client_id: str) -> list[GrantRow]:
    query = select(oauth_grants).where(
        oauth_grants.c.client_id == client_id, oauth_grants.c.revoked_at.is_(None)
    )
    return [_to_grant(r) for r in conn.execute(query)]
