"""The store: SQLAlchemy Core tables, engines for SQLite and PostgreSQL, and Alembic migrations.

The store owns tables, engines, transactions and migrations only; each part keeps its own
queries in a private `_db.py` and imports the tables from here.
"""

from zerogate.store._engine import DialectName
from zerogate.store._schema import (
    UTCDateTime,
    events,
    federated_identities,
    group_members,
    groups,
    metadata,
    oauth_clients,
    oauth_codes,
    oauth_consents,
    oauth_grants,
    oauth_refresh_tokens,
    policy_activations,
    policy_bundles,
    recovery_codes,
    sessions,
    signing_keys,
    totp_credentials,
    users,
    webauthn_challenges,
    webauthn_credentials,
    webhook_replays,
)
from zerogate.store._sealing import Sealer, new_master_key, parse_master_keys
from zerogate.store._store import Store, open_store

__all__ = [
    "DialectName",
    "Sealer",
    "Store",
    "UTCDateTime",
    "events",
    "federated_identities",
    "group_members",
    "groups",
    "metadata",
    "new_master_key",
    "oauth_clients",
    "oauth_codes",
    "oauth_consents",
    "oauth_grants",
    "oauth_refresh_tokens",
    "open_store",
    "parse_master_keys",
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
