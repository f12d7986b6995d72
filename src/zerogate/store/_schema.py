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

__all__ = [
    "UTCDateTime",
    "events",
    "group_members",
    "groups",
    "metadata",
    "policy_activations",
    "policy_bundles",
    "recovery_codes",
    "sessions",
    "signing_keys",
    "totp_credentials",
    "users",
]
