"""Short-lived administrators for CLI commands (PolicyAdmin, the identity Directory), then closed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import Connection

from zerogate.app._secrets import sealer_for
from zerogate.clock import SystemClock
from zerogate.config import Settings
from zerogate.control import TOPIC_ENTITY_CHANGED, PolicyAdmin, open_bus
from zerogate.control.events import append_event
from zerogate.identity import (
    TOTP,
    Directory,
    IdentityChange,
    LoginLimits,
    Passkeys,
    PasswordPolicy,
    RecoveryCodes,
    Sessions,
    SessionsRevoked,
)
from zerogate.identity.oidc import ClientRegistry, revoke_grants_for_sessions
from zerogate.store import Store, open_store


@contextlib.asynccontextmanager
async def policy_admin(settings: Settings) -> AsyncIterator[PolicyAdmin]:
    """A PolicyAdmin on the configured store (migrated first), for one command's lifetime."""
    store = open_migrated(settings)
    try:
        bus = open_bus(store, poll_interval_s=settings.events.poll_interval_s)
        try:
            yield PolicyAdmin(store, bus, clock=SystemClock())
        finally:
            await bus.aclose()
    finally:
        store.close()


@contextlib.asynccontextmanager
async def identity_admin(settings: Settings) -> AsyncIterator[Directory]:
    """A Directory on the configured store (migrated first) whose changes become events."""
    store = open_migrated(settings)
    try:
        yield directory(store, settings)
    finally:
        store.close()


@contextlib.asynccontextmanager
async def mfa_admin(settings: Settings) -> AsyncIterator[tuple[TOTP, RecoveryCodes, Passkeys]]:
    """The TOTP authenticators, recovery codes and passkeys on the configured store (migrated first).

    The CLI only lists and removes passkeys, which needs no relying party: the one given here is
    a placeholder, and ceremonies run in the IdP with its own.
    """
    store = open_migrated(settings)
    try:
        yield (
            TOTP(store, on_change=record_identity_change),
            RecoveryCodes(store, on_change=record_identity_change),
            Passkeys(
                store,
                rp_id="localhost",
                rp_name="Zerogate",
                expected_origins=["http://localhost"],
                on_change=record_identity_change,
            ),
        )
    finally:
        store.close()


@contextlib.asynccontextmanager
async def session_admin(settings: Settings) -> AsyncIterator[Sessions]:
    """Sessions on the configured store (migrated first) whose revocations become events."""
    store = open_migrated(settings)
    try:
        yield Sessions(store, on_change=record_session_change)
    finally:
        store.close()


def directory(store: Store, settings: Settings) -> Directory:
    """The Directory as configured: password policy and sign-in limits from `[identity]`.

    Each change is published as an event and, when it disables or deletes a user, revokes that
    user's sessions, all in the transaction that made the change (ASVS 7.4.2).
    """
    sessions = Sessions(store, on_change=record_session_change)

    def record(conn: Connection, change: IdentityChange) -> None:
        record_identity_change(conn, change)
        sessions.revoke_on_change(conn, change)

    conf = settings.identity
    return Directory(
        store,
        password_policy=PasswordPolicy(min_length=conf.password_min_length),
        limits=LoginLimits(
            max_failures=conf.lockout_failures,
            lockout=timedelta(minutes=conf.lockout_minutes),
            per_user_attempts=conf.per_user_attempts_per_min,
            per_ip_attempts=conf.per_ip_attempts_per_min,
        ),
        on_change=record,
    )


def record_identity_change(conn: Connection, change: IdentityChange) -> None:
    """Publish an identity change as `entity.changed`, in the transaction that made it.

    Payload `{"type": "User"|"Group", "id": <Cedar id>, "change": <kind>, "user_id": ...}`: PDPs
    drop cached decisions about that entity (PolicySync), and whatever holds sessions or tokens
    revokes those of `user_id` when `change` is `user_disabled` or `user_deleted`.
    """
    payload: dict[str, object] = {
        "type": change.entity_type,
        "id": change.entity_id,
        "change": str(change.kind),
    }
    if change.user_id is not None:
        payload["user_id"] = change.user_id
    key = change.user_id or f"{change.entity_type}:{change.entity_id}"
    append_event(conn, TOPIC_ENTITY_CHANGED, payload, key=key, now=change.at)


def record_session_change(conn: Connection, change: SessionsRevoked) -> None:
    """Publish a session revocation as `entity.changed`, in the transaction that made it, and
    revoke the OpenID Connect grants those sessions gave (their refresh and access tokens).

    Payload `{"type": "User", "id": <username>, "change": "sessions_revoked", "user_id": ...,
    "session_ids": [<sha256 hex>...]}`: PDPs drop cached decisions about the user, gateways drop
    the named sessions.
    """
    payload: dict[str, object] = {
        "type": change.entity_type,
        "id": change.entity_id,
        "change": change.kind,
        "user_id": change.user_id,
        "session_ids": list(change.session_ids),
    }
    append_event(conn, TOPIC_ENTITY_CHANGED, payload, key=change.user_id, now=change.at)
    revoke_grants_for_sessions(conn, change)


@contextlib.asynccontextmanager
async def client_admin(settings: Settings) -> AsyncIterator[ClientRegistry]:
    """The OpenID Connect client registry on the configured store (migrated first)."""
    store = open_migrated(settings)
    try:
        yield ClientRegistry(store)
    finally:
        store.close()


def open_migrated(settings: Settings) -> Store:
    """The configured store, sealing with the configured master key, migrated to the head."""
    if settings.store_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url, sealer=sealer_for(settings))
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store
