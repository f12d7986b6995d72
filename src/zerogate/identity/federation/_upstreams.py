"""`Upstreams`: every configured upstream OpenID provider, and the sign-in through one of them.

`begin` starts the authorization code flow; `finish` checks the callback, redeems the code,
verifies the ID token, finds or provisions the linked local user and synchronises its mapped
groups. The upstream's tokens live only inside `finish`: they are never stored, logged or
returned (docs/federation.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import httpx

from zerogate.config import UPSTREAM_NAME, UpstreamSettings
from zerogate.errors import ConfigError, ErrorDetail, InvalidInput
from zerogate.identity import Directory
from zerogate.identity.federation import _flow
from zerogate.identity.federation._accounts import Accounts
from zerogate.identity.federation._db import FederatedIdentity
from zerogate.identity.federation._http import UpstreamUnreachable, get_json, new_client, post_form
from zerogate.identity.federation._model import (
    FederatedLogin,
    FederationFailed,
    FederationFailure,
    FederationState,
    UpstreamChoice,
    UpstreamIdentity,
)
from zerogate.identity.federation._sync import sync_groups
from zerogate.identity.federation._upstream import Upstream
from zerogate.store import Store
from zerogate.tokens import TokenError, TokenKeyUnknown, VerifiedToken

# RFC 8176 values that speak of a factor beyond a password; passed on only with `trust_mfa`.
MFA_AMR_VALUES = frozenset(
    {"mfa", "otp", "hwk", "swk", "sc", "pin", "fpt", "face", "iris", "retina", "vbm", "sms", "tel"}
)
FEDERATED_AMR = "fed"
_LOGIN_HINT_MAX_CHARS = 254


class Upstreams:
    """The upstream providers by name. Settings are checked when constructed (ConfigError).

    `http` is the client used for every upstream request; by default one without proxies from
    the environment. Close the registry with `aclose()` when it made its own client.
    """

    def __init__(
        self,
        settings: Mapping[str, UpstreamSettings],
        *,
        store: Store,
        directory: Directory,
        http: httpx.AsyncClient | None = None,
        state_ttl: timedelta = _flow.STATE_TTL,
    ) -> None:
        self._upstreams = _build(settings)
        self._realms = {d: u.name for u in self._upstreams.values() for d in sorted(u.domains)}
        self._directory = directory
        self._accounts = Accounts(store, directory)
        self._own_http = http is None
        self._http = http or new_client()
        self._state_ttl = state_ttl

    # What the login page shows

    def __contains__(self, name: object) -> bool:
        return name in self._upstreams

    def choices(self) -> list[UpstreamChoice]:
        """One sign-in button per upstream, by name."""
        return [UpstreamChoice(u.name, u.display_name) for _, u in sorted(self._upstreams.items())]

    def home_realm(self, email: str) -> str | None:
        """The upstream an email address's domain is routed to (exact domain match), or None."""
        _, at, domain = email.strip().rpartition("@")
        return self._realms.get(domain.lower()) if at else None

    # The sign-in

    async def begin(
        self, name: str, *, redirect_uri: str, now: datetime, login_hint: str | None = None
    ) -> tuple[str, FederationState]:
        """The upstream's authorization URL and the state to keep in this browser until `finish`.

        PKCE S256 (OA-A5), a random `state` (OA-A3) and `nonce` (OA-A4). `login_hint` (an email
        the user typed) is passed on so the upstream can skip asking for it.
        """
        upstream = self._get(name)
        metadata = await upstream.metadata(self._http, now=now)
        state = _flow.new_state(name, redirect_uri=redirect_uri, now=now, ttl=self._state_ttl)
        hint = login_hint if login_hint and _hint_ok(login_hint) else None
        url = _flow.authorization_url(
            metadata,
            state,
            client_id=upstream.settings.client_id,
            scopes=upstream.settings.scopes,
            login_hint=hint,
        )
        return url, state

    async def finish(
        self,
        name: str,
        state: FederationState,
        callback_params: Mapping[str, str],
        *,
        redirect_uri: str,
        now: datetime,
    ) -> FederatedLogin:
        """Complete a sign-in from the upstream's callback; raises FederationFailed."""
        upstream = self._get(name)
        if state.upstream != name:
            raise FederationFailed(FederationFailure.WRONG_UPSTREAM, upstream=name)
        if redirect_uri != state.redirect_uri:
            raise FederationFailed(
                FederationFailure.STATE_MISMATCH, upstream=name, detail="redirect_uri differs"
            )
        identity = await self._identify(upstream, state, callback_params, now=now)
        settings = upstream.settings
        linked = await self._accounts.resolve(
            identity, require_verified_email=settings.require_verified_email, now=now
        )
        user = linked.user
        if user.disabled or user.locked(now=now):
            reason = (
                FederationFailure.USER_DISABLED if user.disabled else FederationFailure.USER_LOCKED
            )
            raise FederationFailed(reason, upstream=name, detail=f"user {user.id}")
        added, removed = await sync_groups(
            self._directory,
            user,
            upstream=name,
            rules=upstream.rules,
            claims=identity.claims,
            now=now,
        )
        if not linked.created:
            await self._accounts.touch(identity, now=now)
        amr, mfa_at = session_amr(identity, trust_mfa=settings.trust_mfa)
        return FederatedLogin(
            user=user,
            upstream=name,
            subject=identity.subject,
            amr=amr,
            # An upstream clock ahead of ours must not make a sign-in look as if from the future.
            auth_time=min(identity.auth_time, now),
            mfa_at=None if mfa_at is None else min(mfa_at, now),
            created=linked.created,
            groups_added=added,
            groups_removed=removed,
        )

    async def _identify(
        self,
        upstream: Upstream,
        state: FederationState,
        params: Mapping[str, str],
        *,
        now: datetime,
    ) -> UpstreamIdentity:
        """Every protocol check, from callback to verified claims; no local account is touched."""
        name, settings = upstream.name, upstream.settings
        metadata = await upstream.metadata(self._http, now=now)
        code = _flow.check_callback(state, params, metadata=metadata, now=now)
        url, headers, body = _flow.token_request(
            metadata,
            state,
            code,
            client_id=settings.client_id,
            client_secret=str(settings.client_secret),
        )
        try:
            answer = await post_form(
                self._http, url, body=body, headers=headers, timeout_s=settings.timeout_s
            )
        except UpstreamUnreachable as exc:
            raise FederationFailed(
                FederationFailure.UNREACHABLE, upstream=name, detail=str(exc)
            ) from None
        id_token, access_token = _flow.read_token_response(answer, upstream=name)
        verified = await self._verify(upstream, id_token, now=now)
        claims = _flow.check_id_token(
            verified, state=state, client_id=settings.client_id, access_token=access_token
        )
        subject = str(claims["sub"])
        if settings.fetch_userinfo and metadata.userinfo_endpoint is not None:
            try:
                info = await get_json(
                    self._http,
                    metadata.userinfo_endpoint,
                    timeout_s=settings.timeout_s,
                    headers={"authorization": f"Bearer {access_token}"},
                )
            except UpstreamUnreachable as exc:
                raise FederationFailed(
                    FederationFailure.UNREACHABLE, upstream=name, detail=str(exc)
                ) from None
            claims = _flow.merge_claims(
                claims, _flow.check_userinfo(info, subject=subject, upstream=name)
            )
        return _identity(name, metadata.issuer, subject, claims)

    async def _verify(self, upstream: Upstream, id_token: str, *, now: datetime) -> VerifiedToken:
        settings = upstream.settings
        metadata = await upstream.metadata(self._http, now=now)
        keys = await upstream.keys(self._http, now=now)
        try:
            try:
                return _flow.verify_id_token(
                    id_token, keys=keys, metadata=metadata, client_id=settings.client_id, now=now
                )
            except TokenKeyUnknown:
                if not upstream.can_refresh_keys(now):
                    raise
                keys = await upstream.keys(self._http, now=now, refresh=True)
                return _flow.verify_id_token(
                    id_token, keys=keys, metadata=metadata, client_id=settings.client_id, now=now
                )
        except TokenError as exc:
            raise FederationFailed(
                FederationFailure.ID_TOKEN_INVALID,
                upstream=upstream.name,
                detail=f"{exc.code}: {exc.message}",
            ) from None

    # Administration

    async def link(self, name: str, subject: str, user: str, *, now: datetime) -> bool:
        """Link upstream account `subject` to an existing local user (username or email).

        For users who existed before federation: a first sign-in never adopts an account by its
        email (OIDC-22). False if that upstream account is already linked.
        """
        self._get(name)
        if not 0 < len(subject) <= 255:
            raise InvalidInput("an upstream subject is 1 to 255 characters", code="subject_invalid")
        target = await self._directory.get_user(user)
        return await self._accounts.link(name, subject, target, now=now)

    async def unlink(self, name: str, subject: str) -> bool:
        """Remove a link; the local user stays. False if there was none."""
        return await self._accounts.unlink(name, subject)

    async def links_of(self, user: str) -> list[FederatedIdentity]:
        """The upstream accounts linked to a local user (username or email)."""
        return await self._accounts.links_of(await self._directory.get_user(user))

    async def aclose(self) -> None:
        """Close the HTTP client if the registry made it."""
        if self._own_http:
            await self._http.aclose()

    def _get(self, name: str) -> Upstream:
        upstream = self._upstreams.get(name)
        if upstream is None:
            raise FederationFailed(
                FederationFailure.UPSTREAM_UNKNOWN, upstream=None, detail=f"{name[:40]!r}"
            )
        return upstream


def session_amr(
    identity: UpstreamIdentity, *, trust_mfa: bool
) -> tuple[tuple[str, ...], datetime | None]:
    """The session's `amr` and `mfa_at` for a federated sign-in (RFC 8176).

    Always "fed". With `trust_mfa` the upstream's multi-factor values are added, and `mfa`
    (the upstream saying in so many words that several factors were used) sets `mfa_at` to its
    `auth_time`. Untrusted, nothing the upstream claims about factors reaches the session: a
    policy that demands MFA then asks for Zerogate's own step-up.
    """
    if not trust_mfa:
        return (FEDERATED_AMR,), None
    extra = tuple(v for v in dict.fromkeys(identity.amr) if v in MFA_AMR_VALUES)
    mfa_at = identity.auth_time if "mfa" in identity.amr else None
    return (FEDERATED_AMR, *extra), mfa_at


def _build(settings: Mapping[str, UpstreamSettings]) -> dict[str, Upstream]:
    """Construct every upstream, reporting every problem at once (STYLE §10)."""
    built: dict[str, Upstream] = {}
    problems: list[ErrorDetail] = []
    for name in sorted(settings):
        found = [
            ErrorDetail("config_invalid", f"upstreams.{name}.{key}", msg)
            for key, msg in settings[name].problems()
        ]
        for index, rule in enumerate(settings[name].group_rules):
            where = f"upstreams.{name}.group_rules[{index}]"
            found.extend(
                ErrorDetail("config_invalid", f"{where}.{k}", m) for k, m in rule.problems()
            )
        if not UPSTREAM_NAME.fullmatch(name) or "__" in name:
            found.append(ErrorDetail("config_invalid", f"upstreams.{name}", "not a valid name"))
        problems.extend(found)
        if found:
            continue
        try:
            built[name] = Upstream(name, settings[name])
        except InvalidInput as exc:
            problems.append(ErrorDetail(exc.code, f"upstreams.{name}.group_rules", exc.message))
    if problems:
        raise ConfigError("invalid upstream settings", details=problems)
    return built


def _identity(
    upstream: str, issuer: str, subject: str, claims: Mapping[str, object]
) -> UpstreamIdentity:
    email = claims.get("email")
    verified = claims.get("email_verified")
    username = claims.get("preferred_username")
    name = claims.get("name")
    amr = claims.get("amr")
    return UpstreamIdentity(
        upstream=upstream,
        issuer=issuer,
        subject=subject,
        email=email if isinstance(email, str) else None,
        # Some upstreams (older Cognito) send the string "true".
        email_verified=verified is True or verified == "true",
        preferred_username=username if isinstance(username, str) else None,
        name=name if isinstance(name, str) else None,
        amr=tuple(v for v in amr if isinstance(v, str)) if isinstance(amr, list) else (),
        auth_time=_flow.auth_time_of(claims),
        claims=MappingProxyType(dict(claims)),
    )


def _hint_ok(hint: str) -> bool:
    return len(hint) <= _LOGIN_HINT_MAX_CHARS and hint.isprintable()


__all__ = ["FEDERATED_AMR", "MFA_AMR_VALUES", "Upstreams", "session_amr"]
