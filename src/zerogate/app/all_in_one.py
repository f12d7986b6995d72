"""`zerogate up`: everything on one machine with embedded defaults (SQLite, example policies).

One listener serves the PDP's AuthZEN face and the sign-in pages (`zerogate.idp`): the AuthZEN
paths go to the PDP app, every other path to the login UI.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import sys
from ipaddress import ip_address
from typing import TextIO
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from zerogate.app._keys import maintained
from zerogate.app._pdp_service import DEFAULT_EXAMPLES, PDPService, pdp_service
from zerogate.app._serve import serve
from zerogate.app.admin import directory, record_identity_change, record_session_change
from zerogate.clock import Clock, SystemClock
from zerogate.config import Settings
from zerogate.errors import ConfigError, InvalidInput
from zerogate.identity import TOTP, Passkeys, RecoveryCodes, Sessions
from zerogate.identity.oidc import OIDCProvider, ProviderKeys, ProviderSettings
from zerogate.idp import create_app as create_login_app
from zerogate.store import Store
from zerogate.tokens import StoreKeyRing

log = logging.getLogger("zerogate.app")
# Hosts whose pages a browser on this machine reaches as http://localhost (Secure cookies work
# there without TLS); any other host needs `server.public_url` with https.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})  # noqa: S104


def run_all_in_one(settings: Settings, *, out: TextIO = sys.stdout) -> None:
    """Start the PDP with its AuthZEN face and the sign-in pages; blocks until interrupted."""
    asyncio.run(_main(settings, out))


async def _main(settings: Settings, out: TextIO) -> None:
    clock = SystemClock()
    # The login pages must know their own URL before they serve (Origin checks), so an
    # ephemeral port (0) is chosen here rather than by the server.
    port = settings.server.port or _free_port(settings.server.host)
    login_url = settings.server.public_url or _local_url(settings.server.host, port)
    async with pdp_service(settings, clock=clock, default_bundle=DEFAULT_EXAMPLES) as svc:
        app, login_off = svc.app, "set server.public_url to the https URL people sign in at"
        if login_url:
            keys = StoreKeyRing(svc.store)
            await keys.ensure_active(clock.now())
            try:
                login = login_app(svc.store, settings, clock=clock, public_url=login_url, keys=keys)
                app, login_off = _front(svc.app, login), ""
            except ConfigError as exc:
                login_off = "; ".join(str(d) for d in exc.details) or exc.message

        def started(base: str) -> None:
            shown = None if login_off else login_url.rstrip("/")
            print(banner(svc, base, login_url=shown, login_off=login_off), file=out, flush=True)

        async with maintained(keys if login_url else None, clock=clock):
            await serve(app, host=settings.server.host, port=port, on_started=started)


def login_app(
    store: Store,
    settings: Settings,
    *,
    clock: Clock,
    public_url: str,
    keys: ProviderKeys,
) -> Starlette:
    """The sign-in pages and the OpenID provider (issuer `public_url`) over the store,
    publishing identity and session changes as events.

    The signing secret (pending logins, CSRF tokens) is new at each start: this is one process,
    and a restart only asks a half-finished sign-in to start again. Sessions live in the store.
    Passkeys belong to the public URL's host (the RP ID) and are accepted from its origin only.
    """
    return create_login_app(
        directory=directory(store, settings),
        sessions=Sessions(store, on_change=record_session_change),
        totp=TOTP(store, on_change=record_identity_change),
        recovery_codes=RecoveryCodes(store, on_change=record_identity_change),
        clock=clock,
        public_url=public_url,
        secret=secrets.token_bytes(32),
        oidc=OIDCProvider(store, keys, ProviderSettings(issuer=public_url.rstrip("/"))),
        passkeys=_passkeys(store, public_url),
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


def _front(pdp: Starlette, login: Starlette) -> Starlette:
    """The PDP's own paths to the PDP app; everything else to the login pages."""
    pdp_routes = [Route(r.path, pdp) for r in pdp.routes if isinstance(r, Route)]
    return Starlette(routes=[*pdp_routes, Mount("", app=login)])


def _local_url(host: str, port: int) -> str:
    return f"http://localhost:{port}" if host in _LOCAL_HOSTS else ""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def banner(svc: PDPService, base: str, *, login_url: str | None = None, login_off: str = "") -> str:
    """What a person needs to try the running service right away."""
    bundle = svc.pdp.bundle
    example = (
        '{"subject": {"type": "User", "id": "pat", "properties": {"attrs": {"email": '
        '"pat@example.test"}, "parents": [{"type": "Group", "id": "employees"}]}}, '
        '"action": {"name": "GET"}, "resource": {"type": "Route", "id": "wiki-web"}, '
        '"context": {"authn": {"mfa": true, "amr": ["pwd", "otp"], "auth_age_s": 60, '
        '"idp": "zerogate"}, "network": {"ip": "198.51.100.7", "tls": true}, '
        '"risk": {"score": 5, "signals": []}}}'
    )
    lines = [
        "Zerogate is up.",
        f"  store          {svc.store.redacted}",
        f"  policy bundle  {bundle.hash[:12]} ({len(bundle.base.sources)} policies)",
        f"  PDP (AuthZEN)  {base}/access/v1/evaluation",
        f"  sign in        {login_url}/login"
        if login_url
        else f"  sign in        off: {login_off}",
        f"  OIDC issuer    {login_url}" if login_url else "",
        f"  health         {base}/healthz",
        "",
    ]
    if login_url:
        lines += [
            "Create someone to sign in as (same directory, another terminal):",
            "  zerogate user add ada --email ada@example.com     # asks for a password",
            f"Sign in at {login_url}/login, then set up an authenticator app on the account page.",
            "  zerogate mfa list ada                # the user's second factors",
            "  zerogate mfa recovery-codes ada      # a new set of recovery codes",
            "Let an app sign people in with OpenID Connect (discovery at the issuer URL):",
            "  zerogate client add MyApp --redirect-uri https://app.example.com/callback",
            "",
        ]
    return "\n".join(
        [
            *lines,
            "Ask it a question:",
            f"  curl -s {base}/access/v1/evaluation -H 'content-type: application/json' \\",
            f"    -d '{example}'",
            "",
            "Press Ctrl+C to stop.",
        ]
    )
