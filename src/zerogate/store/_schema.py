"""The store's tables as SQLAlchemy Core `MetaData`: the one place that says what the database holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

# Stable constraint names so Alembic migrations and the metadata agree on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only autoincrements an `INTEGER PRIMARY KEY` (the rowid alias), never a BIGINT one.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only accepts timezone-aware UTC times")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: store naive UTC text and restore the zone when reading.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The change feed: append-only; `seq` is the order every subscriber sees (zerogate.control).
events = Table(
    "events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(500), nullable=True),
    Column("payload", Text, nullable=False),  # JSON object as text
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_events_topic", "topic"),
    # AUTOINCREMENT: SQLite never reuses a seq, even after the highest row is deleted.
    sqlite_autoincrement=True,
)

# Content-addressed policy bundles: `hash` is the sha256 hex of the bundle content.
policy_bundles = Table(
    "policy_bundles",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=True),
    Column("manifest", Text, nullable=False),  # JSON object as text
    Column("files", Text, nullable=False),  # JSON {relative path: content} as text
)

# Activation history; the active bundle is the row with the highest `id`.
policy_activations = Table(
    "policy_activations",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("bundle_hash", String(64), ForeignKey("policy_bundles.hash"), nullable=False),
    Column("activated_at", UTCDateTime, nullable=False),
    Column("activated_by", String(200), nullable=True),
    Index("ix_policy_activations_bundle_hash", "bundle_hash"),
    sqlite_autoincrement=True,
)

# Human identities (zerogate.identity). `password_hash` is argon2id; never a plain secret.
users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=True),
    Column("password_hash", String(400), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", String(1000), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(64), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_group_members_user_id", "user_id"),
)

# Token signing keys (zerogate.tokens): published in the JWKS from `created_at`, used for
# signing from `activate_at` (announced before use), retired from signing at `retire_at`, and
# dropped from the JWKS at `expire_at` once every token it signed has expired.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(100), primary_key=True),
    Column("purpose", String(50), nullable=False),
    Column("alg", String(20), nullable=False),
    Column("private_key", Text, nullable=False),  # PKCS#8 PEM; never logged
    Column("public_jwk", Text, nullable=False),  # JSON
    Column("created_at", UTCDateTime, nullable=False),
    Column("activate_at", UTCDateTime, nullable=False),
    Column("retire_at", UTCDateTime, nullable=True),
    Column("expire_at", UTCDateTime, nullable=True),
    Index("ix_signing_keys_purpose", "purpose"),
)

# Login sessions (zerogate.identity): the cookie carries a random token, the row only its SHA-256,
# so a read of this table cannot be replayed as a cookie.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("absolute_expires_at", UTCDateTime, nullable=False),
    Column("auth_time", UTCDateTime, nullable=False),
    Column("amr", Text, nullable=False),  # JSON list of RFC 8176 values
    Column("mfa_at", UTCDateTime, nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_reason", String(100), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
)

# TOTP authenticators (RFC 6238). `last_counter` is the last accepted time step: a code is
# accepted once (replay protection, TOTP-*).
totp_credentials = Table(
    "totp_credentials",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("secret", Text, nullable=False),  # base32; never logged
    Column("label", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("last_counter", BigInteger, nullable=True),
    Index("ix_totp_credentials_user_id", "user_id"),
)

# Single-use recovery codes, stored hashed.
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_recovery_codes_user_id", "user_id"),
)

# WebAuthn passkeys (W3C WebAuthn L2/L3). `credential_id` is the authenticator's id (at most
# 1023 bytes, unique across all users: WA-R8); `public_key` is the COSE key from registration.
# `backup_eligible` (BE) is fixed at registration and checked on every assertion (WA-A2);
# `backed_up` (BS) and `sign_count` are updated at each use (WA-A4).
webauthn_credentials = Table(
    "webauthn_credentials",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", LargeBinary, nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", Text, nullable=False),  # JSON list of AuthenticatorTransport values
    Column("aaguid", String(36), nullable=False),
    Column("backup_eligible", Boolean, nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("user_verified", Boolean, nullable=False),  # UV at registration
    Column("name", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Index("ix_webauthn_credentials_user_id", "user_id"),
)

# Pending WebAuthn ceremonies: the server-side challenge and what `begin_*` demanded (user
# verification), so `finish_*` never trusts the client for it. Single use: the verifying
# transaction deletes the row (WA-R1). `user_id` is None for a username-less sign-in.
webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("purpose", String(20), nullable=False),  # "registration" | "authentication"
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("challenge", LargeBinary, nullable=False),
    Column("user_verification", Boolean, nullable=False),  # True: UV required
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_webauthn_challenges_user_id", "user_id"),
    Index("ix_webauthn_challenges_expires_at", "expires_at"),
)

# OpenID Connect provider (zerogate.identity.oidc). Client secrets, codes and refresh tokens are
# stored only as SHA-256 hashes (they are 256-bit random values), so a read of these tables
# cannot be replayed.
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=True),  # None: a public client (PKCE only)
    Column("redirect_uris", Text, nullable=False),  # JSON list, matched exactly
    Column("post_logout_redirect_uris", Text, nullable=False),  # JSON list
    Column("backchannel_logout_uri", Text, nullable=True),
    Column("scopes", Text, nullable=False),  # space-separated allowlist
    Column("consent_required", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

# A grant is what a user's sign-in gave one client: the family every refresh token of that
# sign-in belongs to. Revoking it (logout, reuse of a rotated refresh token, RFC 7009 revocation)
# ends every token of the family at once.
oauth_grants = Table(
    "oauth_grants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "client_id",
        String(100),
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(64), nullable=False),  # the login session's id hash
    Column("scope", Text, nullable=False),
    Column("auth_time", UTCDateTime, nullable=False),
    Column("amr", Text, nullable=False),  # JSON list
    Column("acr", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the family's absolute lifetime
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_reason", String(100), nullable=True),
    Index("ix_oauth_grants_user_id", "user_id"),
    Index("ix_oauth_grants_session_id", "session_id"),
)

# Authorization codes: single use, minutes long, bound to client, redirect URI and PKCE challenge.
oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column(
        "client_id",
        String(100),
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", String(512), nullable=True),
    Column("code_challenge", String(128), nullable=False),
    Column("auth_time", UTCDateTime, nullable=False),
    Column("amr", Text, nullable=False),
    Column("acr", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("grant_id", String(64), nullable=True),  # set when redeemed: reuse revokes it
)

# Refresh tokens, rotated on every use; a used one presented again revokes its grant.
oauth_refresh_tokens = Table(
    "oauth_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "grant_id", String(64), ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_oauth_refresh_tokens_grant_id", "grant_id"),
)

# Scopes a user approved for a third-party client (clients registered with consent required).
oauth_consents = Table(
    "oauth_consents",
    metadata,
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "client_id",
        String(100),
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("scope", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Links between a local user and an account at an upstream OpenID provider (federation). An
# upstream account is named by (upstream, subject): never by email (OIDC-22), since an email
# address can be reassigned or unverified while `sub` is stable and unique per issuer.
federated_identities = Table(
    "federated_identities",
    metadata,
    Column("upstream", String(32), primary_key=True),  # the configured upstream name
    Column("subject", String(255), primary_key=True),  # the upstream's `sub` (at most 255)
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=False),
    Index("ix_federated_identities_user_id", "user_id"),
)

# Webhook messages a check replica accepted, so every replica sharing the store refuses a replay:
# the replay check is the insert itself (a live (route, digest) row conflicts). `digest` is the
# message's HMAC under the route's current secret, in hex (never the secret or the body); rows
# past `expires_at` can no longer match a message inside the timestamp window and are deleted.
webhook_replays = Table(
    "webhook_replays",
    metadata,
    Column("route", String(128), primary_key=True),  # the Cedar route id of the webhook route
    Column("digest", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_webhook_replays_expires_at", "expires_at"),
)

__all__ = [
    "UTCDateTime",
    "events",
    "federated_identities",
    "group_members",
    "groups",
    "metadata",
    "oauth_clients",
    "oauth_codes",
    "oauth_consents",
    "oauth_grants",
    "oauth_refresh_tokens",
    "policy_activations",
    "policy_bundles",
    "recovery_codes",
    "sessions",
    "signing_keys",
    "totp_credentials",
    "users",
    "webauthn_challenges",
    "webauthn_credentials",
    "webhook_replays",
]
