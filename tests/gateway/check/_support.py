"""A check service over a real store, the example policies and a real key ring, for the tests.

`CheckWorld` holds the identity objects, the PDP (with its decision cache), the key ring and the
`Checker`; helpers sign users in, mint tokens and build `CheckRequest`s the way a proxy would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from tests.identity._support import CHEAP, IP, run
from tests.policy._org import example_bundle
from zerogate.clock import FixedClock
from zerogate.gateway.check import (
    Checker,
    CheckRecord,
    CheckRequest,
    DecisionTokens,
    RouteSettings,
    SessionCache,
    TokenStatus,
)
from zerogate.identity import SESSION_COOKIE_NAME, Directory, PasswordHasher, Sessions, User
from zerogate.policy import PDP, CompiledBundle, DecisionCache
from zerogate.store import Store
from zerogate.tokens import KeyRing, TokenType, issue

ISSUER = "https://login.zerogate.test"
LOGIN_URL = f"{ISSUER}/login"
APP_HOST = "wiki.example.test"
CLIENT_IP = "198.51.100.23"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
GROUPS = ("employees", "engineering", "payroll-admin", "admins", "contractors")


@dataclass
class CheckWorld:
    store: Store
    clock: FixedClock
    directory: Directory
    sessions: Sessions
    ring: KeyRing
    pdp: PDP
    checker: Checker
    records: list[CheckRecord] = field(default_factory=list)

    def add_user(self, username: str, *groups: str, email: str | None = None) -> User:
        return run(
            self.directory.add_user(
                username,
                email or f"{username}@example.test",
                groups=groups,
                now=self.clock.now(),
            )
        )

    def sign_in(
        self,
        user: User,
        *,
        amr: tuple[str, ...] = ("pwd",),
        mfa_ago_s: float | None = None,
        auth_ago_s: float = 0,
    ) -> str:
        """A live session for `user`; returns the Cookie header that carries it."""
        now = self.clock.now()
        mfa_at = None if mfa_ago_s is None else now - timedelta(seconds=mfa_ago_s)
        new = run(
            self.sessions.create(
                user,
                amr=amr,
                auth_time=now - timedelta(seconds=auth_ago_s),
                mfa_at=mfa_at,
                ip=IP,
                user_agent="pytest",
                now=now,
            )
        )
        return f"theme=dark; {SESSION_COOKIE_NAME}={new.token}"

    def access_token(self, user: User, *, sid: str = "s" * 64, **claims: Any) -> str:
        """An RFC 9068 access token shaped like the ones our OpenID provider issues."""
        body = {
            "sub": user.id,
            "client_id": "cli",
            "scope": "openid",
            "auth_time": int(self.clock.now().timestamp()),
            "acr": "urn:zerogate:acr:pwd",
            "amr": ["pwd"],
            "sid": sid,
            "gid": "g-1",
            "preferred_username": user.username,
            **claims,
        }
        return issue(
            body,
            keys=self.ring,
            issuer=ISSUER,
            typ=TokenType.ACCESS,
            audience=ISSUER,
            now=self.clock.now(),
        )

    def id_token(self, user: User) -> str:
        """A valid ID token from the same issuer, audience = the issuer (as if for confusion)."""
        return issue(
            {"sub": user.id, "auth_time": int(self.clock.now().timestamp())},
            keys=self.ring,
            issuer=ISSUER,
            typ=TokenType.ID,
            audience=ISSUER,
            now=self.clock.now(),
        )

    def check(self, req: CheckRequest) -> Any:
        return run(self.checker.check(req))

    def checker_with(self, **options: Any) -> Checker:
        """Another Checker over this world's store, PDP and keys, recording into `records`,
        with `options` (webhooks, host_sessions, on_decision, ...)."""
        options.setdefault("on_decision", self.records.append)
        return Checker(
            self.pdp,
            self.sessions,
            self.directory,
            self.ring,
            issuer=ISSUER,
            clock=self.clock,
            login_url=LOGIN_URL,
            **options,
        )


def request(
    route: str | None = "wiki-web",
    *,
    method: str = "GET",
    cookie: str | None = None,
    authorization: str | None = None,
    accept: str | None = BROWSER,
    host: str = APP_HOST,
    path: str = "/pages/Home",
    query: str = "",
    client_ip: str | None = CLIENT_IP,
    proto: str = "https",
    **extra: Any,
) -> CheckRequest:
    return CheckRequest(
        method=method,
        host=host,
        path=path,
        query=query,
        route=route,
        client_ip=client_ip,
        proto=proto,
        cookie=cookie,
        authorization=authorization,
        accept=accept,
        request_id=extra.pop("request_id", "req-1"),
        traceparent=extra.pop("traceparent", None),
        **extra,
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"


def make_world(
    store: Store,
    *,
    clock: FixedClock | None = None,
    bundle: CompiledBundle | None = None,
    sessions: Sessions | None = None,
    directory: Directory | None = None,
    pdp: PDP | None = None,
    session_cache: bool = False,
    routes: dict[str, RouteSettings] | None = None,
    token_status: TokenStatus | None = None,
    principal_ttl_s: float | None = None,
    decision_tokens: bool = False,
) -> CheckWorld:
    clock = clock or FixedClock()
    directory = directory or Directory(store, hasher=PasswordHasher(CHEAP))
    sessions = sessions or Sessions(store)
    for name in GROUPS:
        run(directory.add_group(name, now=clock.now()))
    ring = KeyRing()
    ring.ensure_active(clock.now() - timedelta(minutes=5))
    pdp = pdp or PDP(
        bundle or example_bundle(),
        clock=clock,
        cache=DecisionCache(clock=clock, ttl_s=15.0, jitter=0.0),
    )
    records: list[CheckRecord] = []
    checker = Checker(
        pdp,
        sessions,
        directory,
        ring,
        issuer=ISSUER,
        clock=clock,
        login_url=LOGIN_URL,
        routes=routes,
        session_cache=SessionCache(clock=clock) if session_cache else None,
        token_status=token_status,
        principal_ttl_s=principal_ttl_s,
        on_decision=records.append,
        decision_tokens=DecisionTokens(ring, issuer=ISSUER) if decision_tokens else None,
    )
    return CheckWorld(store, clock, directory, sessions, ring, pdp, checker, records)


def continued(url: str) -> str:
    """The IdP's return path for an application URL on another origin (its /continue page)."""
    return "/continue?" + urlencode({"to": url})
