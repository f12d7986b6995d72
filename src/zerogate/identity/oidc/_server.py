"""authlib's authorization server, fitted to our store, keys and sessions (the sharp tools).

Everything here runs inside one worker thread and one transaction per HTTP call (see
`_context`); the async `OIDCProvider` face is the only caller.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson
from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode

from zerogate.identity import _db as identity_db
from zerogate.identity import _session_db
from zerogate.identity.oidc import _claims, _context, _db
from zerogate.identity.oidc._clients import check_secret
from zerogate.identity.oidc._model import Client, OIDCRequest, OIDCResponse

_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
_TOKEN_AUTH = ["client_secret_basic", "client_secret_post", "none"]
_rng = random.SystemRandom()


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only request headers (authlib asks for `Authorization`)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._h = {k.lower(): v for k, v in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._h[key.lower()]

    def __iter__(self) -> Any:
        return iter(self._h)

    def __len__(self) -> int:
        return len(self._h)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._list: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._list[key].append(value)
        self._data = {k: v[0] for k, v in self._list.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._list


class Request(OAuth2Request):  # type: ignore[misc]
    """An `OIDCRequest` as authlib reads it; repeated parameters are refused (RFC 6749 §3.1)."""

    def __init__(self, req: OIDCRequest) -> None:
        super().__init__(req.method, req.url, headers=Headers(req.headers))
        pairs = req.query if req.method == "GET" else req.form
        self.payload = _Payload(pairs)
        self._args = dict(req.query)
        self._form = dict(req.form)
        repeated = sorted(k for k, v in self.payload.datalist.items() if len(v) > 1)
        if repeated:
            raise InvalidRequestError(f"parameter {repeated[0]!r} is repeated")

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class ClientAdapter(ClientMixin):  # type: ignore[misc]
    """A `Client` as authlib asks about it: exact redirect URIs, code flow only."""

    def __init__(self, client: Client, secret_hash: str | None) -> None:
        self.client = client
        self._secret_hash = secret_hash

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # `redirect_uri` is always required (OIDC Core §3.1.2.1)

    def get_allowed_scope(self, scope: str | None) -> str:
        asked = (scope or "").split()
        return " ".join(s for s in dict.fromkeys(asked) if s in self.client.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris  # exact string match, no patterns

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(self._secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in _GRANT_TYPES


class CodeRecord(rfc6749.AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, row: _db.CodeRow) -> None:
        self.row = row

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE is required of every client, and only S256 (OAuth 2.1 §4.1.1; PKCE-*)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge", redirect_uri=redirect_uri
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256 (plain is refused)", redirect_uri=redirect_uri
            )
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code: CodeRecord) -> str:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: CodeRecord) -> str:
        return "S256"


class OpenID(OpenIDCode):  # type: ignore[misc]
    """Adds the ID token with our own issuer (tokens.issue), on code and refresh responses."""

    def exists_nonce(self, nonce: str, request: Request) -> bool:
        return False  # a nonce is bound to its one code; codes are single use

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        if "openid" not in str(token.get("scope", "")).split():
            return token
        ctx = _context.current()
        subject: _claims.Subject = grant.request.user
        code = grant.request.authorization_code
        released = _claims.user_claims(ctx.conn, subject.user, set(token["scope"].split()))
        token["id_token"] = _claims.id_token(
            subject,
            released,
            client_id=grant.request.client.get_client_id(),
            nonce=code.row.nonce if isinstance(code, CodeRecord) else None,
            access=token.get("access_token"),
            keys=ctx.keys,
            settings=ctx.settings,
            now=ctx.now,
        )
        return token


def _subject_for(
    user_id: str, session_id: str, grant: _db.GrantRow | None, code: _db.CodeRow | None
) -> _claims.Subject | None:
    """The subject, if the user may still get tokens: enabled, unlocked, session not revoked."""
    ctx = _context.current()
    user = identity_db.find_user(ctx.conn, user_id=user_id)
    if user is None or user.disabled or user.locked(now=ctx.now):
        return None
    session = _session_db.find_session(ctx.conn, session_id)
    if session is None or session.revoked_at is not None or session.absolute_expires_at <= ctx.now:
        return None
    source = grant if grant is not None else code
    assert source is not None
    grant_id = grant.id if grant is not None else secrets.token_hex(16)
    return _claims.Subject(user, session_id, source.auth_time, source.amr, source.acr, grant_id)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _TOKEN_AUTH
    AUTHORIZATION_CODE_LENGTH = 43

    @staticmethod
    def validate_authorization_redirect_uri(request: Request, client: ClientAdapter) -> str:
        """Exact match against the registered list; the URI is never echoed (it may be hostile)."""
        uri = request.payload.redirect_uri
        if not uri:
            raise InvalidRequestError("redirect_uri is required")
        if not client.check_redirect_uri(uri):
            raise InvalidRequestError("redirect_uri is not registered for this client")
        return str(uri)

    def save_authorization_code(self, code: str, request: Request) -> None:
        ctx = _context.current()
        subject: _claims.Subject = request.user
        row = _db.CodeRow(
            code_hash=_db.digest(code),
            client_id=request.client.get_client_id(),
            user_id=subject.user.id,
            session_id=subject.session_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=request.payload.data.get("nonce"),
            code_challenge=request.payload.data["code_challenge"],
            auth_time=subject.auth_time,
            amr=subject.amr,
            acr=subject.acr,
            expires_at=ctx.now + timedelta(seconds=ctx.settings.code_lifetime_s),
            used_at=None,
            grant_id=None,
        )
        _db.insert_code(ctx.conn, row, now=ctx.now)

    def query_authorization_code(self, code: str, client: ClientAdapter) -> CodeRecord | None:
        ctx = _context.current()
        row = _db.find_code(ctx.conn, _db.digest(code))
        if row is None or row.client_id != client.get_client_id():
            return None
        if not _db.claim_code(ctx.conn, row.code_hash, now=ctx.now):
            # A code redeemed twice: revoke what the first redemption got (RFC 6749 §4.1.2).
            if row.grant_id is not None:
                _db.revoke_grants(
                    ctx.conn, grant_ids=[row.grant_id], reason="code_reused", now=ctx.now
                )
            return None
        if row.expires_at <= ctx.now:
            return None
        return CodeRecord(row)

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Kept, marked used, until it expires: a second redemption is then recognised."""

    def authenticate_user(self, authorization_code: CodeRecord) -> _claims.Subject | None:
        ctx = _context.current()
        row = authorization_code.row
        subject = _subject_for(row.user_id, row.session_id, None, row)
        if subject is None:
            return None
        session = _session_db.find_session(ctx.conn, row.session_id)
        assert session is not None
        expires = min(
            ctx.now + timedelta(seconds=ctx.settings.grant_lifetime_s), session.absolute_expires_at
        )
        grant = _db.GrantRow(
            id=subject.grant_id,
            client_id=row.client_id,
            user_id=row.user_id,
            session_id=row.session_id,
            scope=row.scope,
            auth_time=row.auth_time,
            amr=row.amr,
            acr=row.acr,
            expires_at=expires,
            revoked_at=None,
        )
        _db.insert_grant(ctx.conn, grant, now=ctx.now)
        _db.link_code(ctx.conn, row.code_hash, grant.id)
        return subject


class RefreshCredential:
    def __init__(self, row: _db.RefreshRow, grant: _db.GrantRow) -> None:
        self.row = row
        self.grant = grant

    def check_client(self, client: ClientAdapter) -> bool:
        return self.grant.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.grant.scope


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Rotation on every use; a rotated token presented again revokes its family (OAUTH-*)."""

    TOKEN_ENDPOINT_AUTH_METHODS = _TOKEN_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        ctx = _context.current()
        row = _db.find_refresh(ctx.conn, _db.digest(refresh_token))
        if row is None:
            return None
        grant = _db.find_grant(ctx.conn, row.grant_id)
        if grant is None or grant.client_id != self.request.client.get_client_id():
            return None  # another client's token: refused without touching it
        if not _db.claim_refresh(ctx.conn, row.token_hash, now=ctx.now):
            _db.revoke_grants(ctx.conn, grant_ids=[grant.id], reason="refresh_reused", now=ctx.now)
            return None
        if grant.revoked_at is not None or grant.expires_at <= ctx.now or row.expires_at <= ctx.now:
            return None
        return RefreshCredential(row, grant)

    def authenticate_user(self, credential: RefreshCredential) -> _claims.Subject | None:
        grant = credential.grant
        return _subject_for(grant.user_id, grant.session_id, grant, None)

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Already marked used when it was authenticated."""


class Server(AuthorizationServer):  # type: ignore[misc]
    """The authorization server: token generation and persistence over the current call."""

    def __init__(self) -> None:
        super().__init__(scopes_supported=None)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> ClientAdapter | None:
        found = _db.find_client(_context.current().conn, client_id)
        if found is None or found[0].disabled:
            return None
        return ClientAdapter(*found)

    def _generate(
        self,
        grant_type: str,
        client: ClientAdapter,
        user: _claims.Subject,
        scope: str,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        ctx = _context.current()
        lifetime = ctx.settings.access_token_lifetime_s
        access = _claims.access_token(
            user,
            client_id=client.get_client_id(),
            scope=scope,
            keys=ctx.keys,
            settings=ctx.settings,
            now=ctx.now,
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": lifetime,
            "scope": scope,
            # Advice, not a rule: refresh around here so that clients do not all come at once.
            "refresh_in": _claims.refresh_advice(lifetime, ctx.settings.refresh_jitter, _rng),
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        refresh = token.get("refresh_token")
        if refresh is None:
            return
        ctx = _context.current()
        subject: _claims.Subject = request.user
        grant = _db.find_grant(ctx.conn, subject.grant_id)
        assert grant is not None
        expires = min(
            ctx.now + timedelta(seconds=ctx.settings.refresh_token_lifetime_s), grant.expires_at
        )
        _db.insert_refresh(
            ctx.conn,
            token_hash=_db.digest(refresh),
            grant_id=subject.grant_id,
            now=ctx.now,
            expires_at=expires,
        )

    def create_oauth2_request(self, request: Any) -> Request:
        return request if isinstance(request, Request) else Request(request)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: everything worth recording happens in the transaction."""

    def handle_response(self, status: int, body: Any, headers: Any) -> OIDCResponse:
        out = [(str(k), str(v)) for k, v in headers]
        if isinstance(body, dict):
            data = orjson.dumps(body)
            if not any(k.lower() == "content-type" for k, _ in out):
                out.append(("Content-Type", "application/json"))
        else:
            data = str(body or "").encode()
        if not any(k.lower() == "cache-control" for k, _ in out):
            out.append(("Cache-Control", "no-store"))
        return OIDCResponse(status=status, headers=tuple(out), body=data)


def build_server() -> Server:
    server = Server()
    server.register_grant(CodeGrant, [S256Only(required=True), OpenID(require_nonce=False)])
    server.register_grant(RefreshGrant, [OpenID(require_nonce=False)])
    return server
