"""The identity provider as a service: sign-in pages, passkeys, upstream federation and the
OpenID provider over one store, with its signing keys kept current.

Used by `zerogate up` (beside the PDP) and by `zerogate serve idp` (replicas sharing PostgreSQL:
they must share `store.secret_key`, which seals secrets and keys the sign-in forms).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from ipaddress import ip_address
from urllib.parse import urlsplit

from starlette.applications import Starlette

from zerogate.app._keys import maintained
from zerogate.app.admin import directory, record_identity_change, record_session_change
from zerogate.clock import Clock
from zerogate.config import OIDCSettings, Settings
from zerogate.errors import InvalidInput
from zerogate.identity import TOTP, Passkeys, RecoveryCodes, Sessions
from zerogate.identity.federation import Upstreams
from zerogate.identity.oidc import OIDCProvider, ProviderSettings
from zerogate.idp import ReturnOrigins, SecurityEvents
from zerogate.idp import create_app as create_login_app
from zerogate.store import Store
from zerogate.telemetry import process_metrics
from zerogate.tokens import StoreKeyRing

FORMS_KEY_PURPOSE = "zerogate.idp.forms"
HANDOFF_KEY_PURPOSE = "zerogate.gateway.handoff"  # shared with the gateway's check service
log = logging.getLogger("zerogate.app")


@contextlib.asynccontextmanager
async def idp_service(
    store: Store,
    settings: Settings,
    *,
    clock: Clock,
    public_url: str,
    return_origins: Sequence[str] | ReturnOrigins = (),
    security_events: SecurityEvents | None = None,
) -> AsyncIterator[Starlette]:
    """The IdP web app at `public_url` (its issuer); raises ConfigError for an unusable URL.
    A `ReturnOrigins` for `return_origins` may be changed while the app runs (live routes).
    `security_events` hears of every sign-in and second-factor attempt (the audit log)."""
    keys = StoreKeyRing(store)
    await keys.ensure_active(clock.now())
    people = directory(store, settings)
    upstreams = (
        Upstreams(settings.upstreams, store=store, directory=people) if settings.upstreams else None
    )
    try:
        app = create_login_app(
            directory=people,
            sessions=Sessions(store, on_change=record_session_change),
            totp=TOTP(store, on_change=record_identity_change),
            recovery_codes=RecoveryCodes(store, on_change=record_identity_change),
            clock=clock,
            public_url=public_url,
            # Derived from the master key: the same on every node, and across restarts.
            secret=store.sealer.derive(FORMS_KEY_PURPOSE),
            oidc=OIDCProvider(store, keys, provider_settings(settings.oidc, public_url)),
            passkeys=_passkeys(store, public_url),
            upstreams=upstreams,
            return_origins=return_origins,
            handoff_key=store.sealer.derive(HANDOFF_KEY_PURPOSE),
            security_events=security_events,
            on_token=process_metrics().record_token_request,  # docs/telemetry.md
        )
        async with maintained(keys, clock=clock):
            yield app
    finally:
        if upstreams is not None:
            await upstreams.aclose()


def provider_settings(oidc: OIDCSettings, public_url: str) -> ProviderSettings:
    return ProviderSettings(
        issuer=public_url.rstrip("/"),
        access_token_lifetime_s=oidc.access_token_lifetime_s,
        id_token_lifetime_s=oidc.id_token_lifetime_s,
        code_lifetime_s=oidc.code_lifetime_s,
        refresh_token_lifetime_s=oidc.refresh_token_lifetime_s,
        grant_lifetime_s=oidc.grant_lifetime_s,
        refresh_jitter=oidc.refresh_jitter,
    )


def _passkeys(store: Store, public_url: str) -> Passkeys | None:
    """Passkeys for the public URL: RP ID its host, the one expected origin its origin.

    None (with a warning) where WebAuthn cannot work: an RP ID is a domain, never an IP address,
    so `http://127.0.0.1:PORT` signs in without passkeys (`http://localhost:PORT` has them).
    A URL the login pages cannot use at all is reported by them.
    """
    parts = urlsplit(public_url.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return None  # not a URL: the login pages refuse it and say why
    if _is_ip_address(host):
        log.warning("passkeys are off: the public URL's host is an IP address, not a domain")
        return None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")
    try:
        return Passkeys(
            store,
            rp_id=host,
            rp_name="Zerogate",
            expected_origins=[origin],
            on_change=record_identity_change,
        )
    except InvalidInput as exc:
        log.warning("passkeys are off: %s", "; ".join(str(d) for d in exc.details) or exc.message)
        return None


def _is_ip_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
