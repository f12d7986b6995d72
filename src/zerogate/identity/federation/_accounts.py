"""Account linking: the local user behind an upstream account, made at the first sign-in (JIT).

An upstream account is named by (upstream, `sub`) and nothing else (OIDC-22): an email address can
be reassigned at the upstream, or be unverified there, so matching on it would let one person
take over another's account. The first sign-in therefore never adopts an existing local user;
if the address is already taken, an administrator links the accounts by hand (`Upstreams.link`).
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from zerogate.errors import Conflict, InvalidInput, NotFound
from zerogate.identity import (
    USERNAME_MAX_CHARS,
    Directory,
    User,
    _tx,
    normalise_email,
    normalise_username,
)
from zerogate.identity.federation import _db
from zerogate.identity.federation._model import (
    FederationFailed,
    FederationFailure,
    UpstreamIdentity,
)
from zerogate.store import Store

log = logging.getLogger("zerogate.identity.federation")
_NOT_NAME = re.compile(r"[^a-z0-9._-]+")
_EDGES = re.compile(r"^[._-]+|[._-]+$")
_DISPLAY_NAME_MAX_CHARS = 200
_SUFFIX_TRIES = 20


@dataclass(frozen=True, slots=True)
class LinkedUser:
    """The local user an upstream account maps to, and whether this sign-in created it."""

    user: User
    created: bool


class Accounts:
    """Finds or provisions the local user of an upstream account, through `Directory`."""

    def __init__(self, store: Store, directory: Directory) -> None:
        self._store = store
        self._directory = directory

    async def resolve(
        self, identity: UpstreamIdentity, *, require_verified_email: bool, now: datetime
    ) -> LinkedUser:
        """The linked user, or a new one for a first sign-in; raises FederationFailed."""
        user = await self._linked_user(identity)
        if user is not None:
            return LinkedUser(user, created=False)
        email = _email_of(identity, require_verified=require_verified_email)
        return await self._provision(identity, email, now=now)

    async def link(self, upstream: str, subject: str, user: User, *, now: datetime) -> bool:
        """Link an upstream account to an existing user (the remedy for `email_taken`)."""
        return await _tx.write(
            self._store, lambda conn: _db.insert_link(conn, upstream, subject, user.id, now=now)
        )

    async def unlink(self, upstream: str, subject: str) -> bool:
        return await _tx.write(self._store, lambda conn: _db.delete_link(conn, upstream, subject))

    async def links_of(self, user: User) -> list[_db.FederatedIdentity]:
        return await _tx.read(self._store, lambda conn: _db.links_of(conn, user.id))

    async def touch(self, identity: UpstreamIdentity, *, now: datetime) -> None:
        await _tx.write(
            self._store,
            lambda conn: _db.touch_link(conn, identity.upstream, identity.subject, now=now),
        )

    async def _linked_user(self, identity: UpstreamIdentity) -> User | None:
        found = await _tx.read(
            self._store, lambda conn: _db.find_link(conn, identity.upstream, identity.subject)
        )
        if found is None:
            return None
        try:
            return await self._directory.get_user_by_id(found.user_id)
        except NotFound:
            return None  # deleted since we read the link (the row cascades away with it)

    async def _provision(
        self, identity: UpstreamIdentity, email: str, *, now: datetime
    ) -> LinkedUser:
        if await self._exists(email):
            raise _failed(FederationFailure.EMAIL_TAKEN, identity, "an unlinked user has the email")
        username = await self._free_username(_username_base(identity, email))
        try:
            user = await self._directory.add_user(
                username, email, display_name=_display_name(identity.name), now=now
            )
        except Conflict:
            # A concurrent first sign-in of the same account won, or the address was just taken.
            linked = await self._linked_user(identity)
            if linked is not None:
                return LinkedUser(linked, created=False)
            raise _failed(
                FederationFailure.EMAIL_TAKEN, identity, "lost a race for the email"
            ) from None
        linked_now = await _tx.write(
            self._store,
            lambda conn: _db.insert_link(
                conn, identity.upstream, identity.subject, user.id, now=now
            ),
        )
        if not linked_now:
            # Linked concurrently to someone else: ours must not linger as an orphan account.
            await self._directory.delete_user(user.username, now=now)
            winner = await self._linked_user(identity)
            if winner is None:
                raise _failed(FederationFailure.EMAIL_TAKEN, identity, "link could not be made")
            return LinkedUser(winner, created=False)
        log.info(
            "federated user provisioned",
            extra={"upstream": identity.upstream, "user_id": user.id, "username": user.username},
        )
        return LinkedUser(user, created=True)

    async def _exists(self, ref: str) -> bool:
        try:
            await self._directory.get_user(ref)
        except NotFound:
            return False
        return True

    async def _free_username(self, base: str) -> str:
        """`base`, else `base-2`, `base-3`, ..., else `base-<random>`: never an existing name."""
        for index in range(1, _SUFFIX_TRIES + 1):
            candidate = base if index == 1 else _with_suffix(base, str(index))
            if not await self._exists(candidate):
                return candidate
        return _with_suffix(base, secrets.token_hex(4))


def _email_of(identity: UpstreamIdentity, *, require_verified: bool) -> str:
    if not identity.email:
        raise _failed(FederationFailure.EMAIL_MISSING, identity, "no email claim")
    if require_verified and not identity.email_verified:
        # The address becomes this account's (unique) email and is shown to downstream apps:
        # an unverified one could be anyone's (the "nOAuth" class of takeovers).
        raise _failed(FederationFailure.EMAIL_UNVERIFIED, identity, "email_verified is not true")
    try:
        return normalise_email(identity.email)
    except InvalidInput:
        raise _failed(FederationFailure.EMAIL_INVALID, identity, "unusable email") from None


def _username_base(identity: UpstreamIdentity, email: str) -> str:
    """A username from `preferred_username` (its local part if it is an address), else from the
    email's local part, reduced to the username alphabet; "user" if nothing is left. Never an
    identifier: two upstream accounts may well suggest the same one (`_free_username`)."""
    for source in (identity.preferred_username, email):
        if not source:
            continue
        # "Ålice" -> "alice": decompose, then drop what is not ASCII (the accents).
        ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
        text = ascii_text.lower().partition("@")[0]
        slug = _EDGES.sub("", _NOT_NAME.sub("-", text))[:USERNAME_MAX_CHARS]
        slug = _EDGES.sub("", slug)
        try:
            return normalise_username(slug)
        except InvalidInput:
            continue
    return "user"


def _with_suffix(base: str, suffix: str) -> str:
    head = _EDGES.sub("", base[: USERNAME_MAX_CHARS - len(suffix) - 1]) or "user"
    return f"{head}-{suffix}"


def _display_name(name: str | None) -> str | None:
    if not name:
        return None
    text = " ".join(name.split())[:_DISPLAY_NAME_MAX_CHARS]  # one line, bounded
    return text if text.isprintable() else None


def _failed(reason: FederationFailure, identity: UpstreamIdentity, detail: str) -> FederationFailed:
    return FederationFailed(reason, upstream=identity.upstream, detail=detail)


__all__ = ["Accounts", "LinkedUser"]
