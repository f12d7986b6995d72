"""WebAuthn passkeys as an identity factor: register, sign in (with or without a username), list, remove.

Standards: W3C WebAuthn L2/L3 §7.1 and §7.2 (checklist WA-R1…R8, WA-A1…A5), verified by py_webauthn;
RFC 8176 (amr). Passkeys are phishing-resistant (the origin and RP ID are signed over), so they
are the factor administrators use (ZTMM-ID1); `require_user_verification` is the caller's say.

Ceremonies are kept on the server: `begin_*` stores a random challenge together with what it
demanded (user verification, the user), and `finish_*` takes that row back in its transaction,
so the client can neither replay a challenge nor weaken the requirement. A ceremony presented to
`finish_*` is spent whatever the outcome; nothing else is written unless the ceremony succeeds.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from zerogate._types import UserID
from zerogate.errors import Conflict, NotFound
from zerogate.identity import _tx
from zerogate.identity import _webauthn_db as db
from zerogate.identity import _webauthn_verify as webauthn
from zerogate.identity._model import ChangeKind, ChangeRecorder, User
from zerogate.identity._names import clean_text, detail, reject, text_problem
from zerogate.identity._totp import record_credential_change
from zerogate.identity._webauthn_ceremony import (
    finish_ceremony,
    log_failure,
    open_ceremony,
    resolve_user,
    usable,
    user_by_id,
)
from zerogate.identity._webauthn_db import Ceremony, PasskeyCredential, Purpose
from zerogate.identity._webauthn_model import (
    PASSKEY_NAME_MAX_CHARS,
    PasskeyAuthenticationOptions,
    PasskeyFailureReason,
    PasskeyInvalid,
    PasskeyLimits,
    PasskeyRegistrationOptions,
    RelyingParty,
    VerifiedPasskey,
    ceremony_ttl_problem,
    passkey_amr,
    relying_party_problems,
)
from zerogate.store import Store

log = logging.getLogger("zerogate.identity")

Reason = PasskeyFailureReason
PASSKEY_CEREMONY_TTL = timedelta(minutes=5)  # WebAuthn §5.4.1: 300 to 600 s when UV is wanted


class Passkeys:
    """WebAuthn credentials of users in the store, and the ceremonies that create and use them.

    A user is a `User` or a username/email reference; either way it is re-read inside each
    transaction, so a user disabled a moment ago can neither register nor sign in.
    """

    def __init__(
        self,
        store: Store,
        *,
        rp_id: str,
        rp_name: str,
        expected_origins: Sequence[str],
        on_change: ChangeRecorder | None = None,
        ceremony_ttl: timedelta = PASSKEY_CEREMONY_TTL,
        limits: PasskeyLimits | None = None,
    ) -> None:
        """Raises InvalidInput (`passkey_rp_id_invalid`, `passkey_rp_name_invalid`,
        `passkey_origin_invalid`, `passkey_ttl_invalid`, or `passkey_config_invalid` for several).
        """
        problems = relying_party_problems(rp_id, rp_name, expected_origins)
        ttl = ceremony_ttl_problem(ceremony_ttl)
        reject(
            [*problems, detail("passkey_ttl_invalid", "ceremony_ttl", ttl)], what="passkey_config"
        )
        origins = tuple(dict.fromkeys(expected_origins))
        self.relying_party = RelyingParty(rp_id, rp_name.strip(), origins)
        self._store = store
        self._on_change = on_change
        self.ceremony_ttl = ceremony_ttl
        self.limits = limits or PasskeyLimits()

    def __repr__(self) -> str:
        return f"Passkeys({self._store!r}, rp_id={self.relying_party.id!r})"

    async def begin_registration(
        self, user: User | str, *, require_user_verification: bool, now: datetime
    ) -> PasskeyRegistrationOptions:
        """Start registering a passkey for `user` (signed in already: the web layer checks that).

        The options exclude the user's existing passkeys, ask for a discoverable credential and
        attestation "none", and offer ES256, EdDSA and RS256. Raises PasskeyInvalid
        (`user_disabled`, `user_locked`), NotFound(`user_not_found`),
        Conflict(`passkey_limit_reached`), ZerogateError(`passkey_busy`).
        """

        def begin(conn: Connection) -> tuple[User, list[PasskeyCredential], Ceremony]:
            owner = usable(resolve_user(conn, user), now=now)
            existing = db.list_passkeys(conn, owner.id)
            if len(existing) >= self.limits.max_per_user:
                raise _limit_reached(self.limits.max_per_user)
            ceremony = self._open(
                conn, "registration", owner.id, require_user_verification, now=now
            )
            return owner, existing, ceremony

        try:
            owner, existing, ceremony = await _tx.write(self._store, begin)
        except PasskeyInvalid as exc:
            log_failure(exc, "passkey registration refused")
            raise
        options = webauthn.registration_options(
            self.relying_party,
            owner,
            challenge=ceremony.challenge,
            user_verification=require_user_verification,
            exclude=existing,
            timeout_ms=self._timeout_ms,
        )
        return PasskeyRegistrationOptions(
            ceremony.id, options, require_user_verification, ceremony.expires_at
        )

    async def finish_registration(
        self,
        user: User | str,
        ceremony_id: str,
        credential_json: str,
        *,
        name: str | None,
        now: datetime,
    ) -> PasskeyCredential:
        """Verify the browser's registration response and store the passkey (WA-R1…R8).

        Raises InvalidInput(`passkey_name_invalid`) before the ceremony is touched; otherwise
        the ceremony is spent and failures raise PasskeyInvalid (reason for the audit log) or
        Conflict(`passkey_limit_reached`). The change is recorded in the same transaction.
        """
        label = _clean_name(name)
        json_cap = self.limits.credential_json_max_bytes

        def check(conn: Connection, ceremony: Ceremony) -> PasskeyCredential:
            owner = resolve_user(conn, user)
            if ceremony.purpose != "registration" or ceremony.user_id != owner.id:
                raise PasskeyInvalid(Reason.CHALLENGE_UNKNOWN, user_id=owner.id)
            usable(owner, now=now)
            parsed = webauthn.parse_registration(credential_json, max_bytes=json_cap)
            verified = webauthn.verify_registration(
                parsed, rp=self.relying_party, ceremony=ceremony
            )
            if len(db.list_passkeys(conn, owner.id)) >= self.limits.max_per_user:
                raise _limit_reached(self.limits.max_per_user)
            added = db.insert_passkey(
                conn,
                owner.id,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=webauthn.transports_of(parsed),
                aaguid=verified.aaguid,
                backup_eligible=webauthn.backup_eligible(verified),
                backed_up=verified.credential_backed_up,
                user_verified=verified.user_verified,
                name=label,
                now=now,
            )
            if added is None:  # WA-R8: registered already, to this user or another
                raise PasskeyInvalid(Reason.DUPLICATE_CREDENTIAL, user_id=owner.id)
            record_credential_change(
                self._on_change, conn, ChangeKind.PASSKEY_REGISTERED, owner, now
            )
            return added

        added = await finish_ceremony(
            self._store, ceremony_id, check, now=now, what="passkey registration"
        )
        log.info(
            "passkey registered",
            extra={"user_id": added.user_id, "passkey_id": added.id, "aaguid": added.aaguid},
        )
        return added

    async def begin_authentication(
        self, user: User | str | None, *, require_user_verification: bool, now: datetime
    ) -> PasskeyAuthenticationOptions:
        """Start a sign-in: for `user`'s passkeys, or (None) for any discoverable passkey.

        With a user, allowCredentials lists its passkeys and only they can finish; without
        one, allowCredentials is empty and the browser offers the passkeys it holds for this RP.
        Nothing here says whether the user exists or can sign in: `finish_authentication`
        decides. Raises NotFound(`user_not_found`) for an unknown reference, ZerogateError
        (`passkey_busy`).
        """

        def begin(conn: Connection) -> tuple[list[PasskeyCredential], Ceremony]:
            owner = None if user is None else resolve_user(conn, user)
            allow = [] if owner is None else db.list_passkeys(conn, owner.id)
            ceremony = self._open(
                conn,
                "authentication",
                None if owner is None else owner.id,
                require_user_verification,
                now=now,
            )
            return allow, ceremony

        allow, ceremony = await _tx.write(self._store, begin)
        options = webauthn.authentication_options(
            self.relying_party,
            challenge=ceremony.challenge,
            user_verification=require_user_verification,
            allow=allow,
            timeout_ms=self._timeout_ms,
        )
        return PasskeyAuthenticationOptions(
            ceremony.id, options, require_user_verification, ceremony.expires_at
        )

    async def finish_authentication(
        self, ceremony_id: str, credential_json: str, *, now: datetime
    ) -> VerifiedPasskey:
        """Verify an assertion (WA-A1…A4) and record the passkey's use; the ceremony is spent.

        The passkey must belong to the user the ceremony named (if any) and its userHandle must
        name its owner. The sign count must grow unless it stays 0; it and `last_used_at` are
        updated in the same transaction. Raises PasskeyInvalid (reason for the audit log).
        """
        json_cap = self.limits.credential_json_max_bytes

        def check(conn: Connection, ceremony: Ceremony) -> VerifiedPasskey:
            if ceremony.purpose != "authentication":
                raise PasskeyInvalid(Reason.CHALLENGE_UNKNOWN, user_id=ceremony.user_id)
            parsed = webauthn.parse_assertion(credential_json, max_bytes=json_cap)
            stored = db.find_passkey(conn, parsed.raw_id)
            if stored is None:
                raise PasskeyInvalid(Reason.CREDENTIAL_UNKNOWN, user_id=ceremony.user_id)
            passkey = stored.credential
            if ceremony.user_id is not None and passkey.user_id != ceremony.user_id:
                # WA-A1: someone else's passkey in a ceremony begun for this user.
                raise PasskeyInvalid(
                    Reason.CREDENTIAL_MISMATCH_USER, user_id=ceremony.user_id, passkey_id=passkey.id
                )
            try:
                verified = webauthn.verify_assertion(
                    parsed, rp=self.relying_party, ceremony=ceremony, stored=stored
                )
                owner = usable(user_by_id(conn, passkey.user_id), now=now)
            except PasskeyInvalid as exc:
                exc.passkey_id = passkey.id
                raise
            if not db.record_use(
                conn,
                passkey.id,
                previous_count=passkey.sign_count,
                sign_count=verified.new_sign_count,
                backed_up=verified.credential_backed_up,
                now=now,
            ):  # another assertion moved the counter meanwhile: the same key used twice at once
                raise PasskeyInvalid(
                    Reason.SIGN_COUNT_REGRESSED, user_id=owner.id, passkey_id=passkey.id
                )
            return VerifiedPasskey(
                user=owner,
                passkey_id=passkey.id,
                user_verified=verified.user_verified,
                backed_up=verified.credential_backed_up,
                sign_count=verified.new_sign_count,
                authenticated_at=now,
                amr=passkey_amr(
                    backup_eligible=passkey.backup_eligible, user_verified=verified.user_verified
                ),
            )

        signed_in = await finish_ceremony(
            self._store, ceremony_id, check, now=now, what="passkey sign-in"
        )
        log.info(
            "passkey sign-in",
            extra={
                "user_id": signed_in.user.id,
                "passkey_id": signed_in.passkey_id,
                "user_verified": signed_in.user_verified,
            },
        )
        return signed_in

    async def list(self, user: User | str) -> builtins.list[PasskeyCredential]:
        """The user's passkeys, oldest first."""
        return await _tx.read(
            self._store, lambda conn: db.list_passkeys(conn, resolve_user(conn, user).id)
        )

    async def rename(
        self, user: User | str, passkey_id: str, name: str | None
    ) -> PasskeyCredential:
        """Change a passkey's label; raises InvalidInput(`passkey_name_invalid`), NotFound."""
        label = _clean_name(name)

        def rename(conn: Connection) -> PasskeyCredential:
            owner = resolve_user(conn, user)
            if not db.rename_passkey(conn, owner.id, passkey_id, label):
                raise _not_found()
            return next(p for p in db.list_passkeys(conn, owner.id) if p.id == passkey_id)

        return await _tx.write(self._store, rename)

    async def remove(
        self, user: User | str, passkey_id: str, *, now: datetime
    ) -> PasskeyCredential:
        """Delete one of the user's passkeys (`id` from `list`); raises NotFound(`passkey_not_found`)."""

        def remove(conn: Connection) -> PasskeyCredential:
            owner = resolve_user(conn, user)
            removed = db.delete_passkey(conn, owner.id, passkey_id)
            if removed is None:
                raise _not_found()
            record_credential_change(self._on_change, conn, ChangeKind.PASSKEY_REMOVED, owner, now)
            return removed

        removed = await _tx.write(self._store, remove)
        log.info(
            "passkey removed",
            extra={"user_id": removed.user_id, "passkey_id": removed.id, "at": now.isoformat()},
        )
        return removed

    @property
    def _timeout_ms(self) -> int:
        return int(self.ceremony_ttl.total_seconds() * 1000)

    def _open(
        self,
        conn: Connection,
        purpose: Purpose,
        user_id: UserID | None,
        uv: bool,
        *,
        now: datetime,
    ) -> Ceremony:
        return open_ceremony(
            conn,
            purpose,
            user_id,
            user_verification=uv,
            ttl=self.ceremony_ttl,
            max_pending=self.limits.max_pending,
            now=now,
        )


def _clean_name(name: str | None) -> str | None:
    reject(
        [
            detail(
                "passkey_name_invalid", "name", text_problem(name, max_chars=PASSKEY_NAME_MAX_CHARS)
            )
        ],
        what="passkey_name",
    )
    return clean_text(name)


def _limit_reached(limit: int) -> Conflict:
    return Conflict(f"a user can have at most {limit} passkeys", code="passkey_limit_reached")


def _not_found() -> NotFound:
    return NotFound("no such passkey", code="passkey_not_found")


__all__ = ["PASSKEY_CEREMONY_TTL", "Passkeys"]
