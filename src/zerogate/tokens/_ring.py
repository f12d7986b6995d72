"""Key rings: one purpose's keys held in memory, parsed once per `kid`, and the in-memory ring.

Readers (`verify`, `issue`, `jwks`) only ever see a complete snapshot: a change builds new
dictionaries and swaps them in with one assignment, so the hot path takes no lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from zerogate.tokens._errors import SigningKeyUnavailable
from zerogate.tokens._keys import (
    KeyFactory,
    KeyInfo,
    KeyRecord,
    SigningKey,
    VerificationKey,
    generate_key,
    new_record,
    parse_signing_key,
    parse_verification_key,
)
from zerogate.tokens._schedule import (
    Plan,
    RotationSchedule,
    plan_ensure,
    plan_maintain,
    plan_revoke,
    plan_rotate,
    signing_info,
)
from zerogate.tokens._types import Algorithm

_PURPOSE_MAX = 50  # signing_keys.purpose is String(50)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One consistent view of a ring's keys; replaced whole, never changed in place."""

    infos: tuple[KeyInfo, ...]  # ordered by activation
    verifiers: dict[str, VerificationKey]
    signers: dict[str, SigningKey]


class KeyRingBase:
    """The read side shared by every ring: key lookup, the signing key, the JWKS."""

    def __init__(
        self,
        *,
        purpose: str,
        alg: Algorithm,
        schedule: RotationSchedule,
        key_factory: KeyFactory | None,
    ) -> None:
        if not 0 < len(purpose) <= _PURPOSE_MAX:
            raise ValueError(f"purpose must be 1 to {_PURPOSE_MAX} characters")
        self.purpose = purpose
        self.alg = Algorithm(alg)
        self.schedule = schedule
        self._key_factory = key_factory or generate_key
        self._snapshot = _Snapshot((), {}, {})

    @property
    def max_token_lifetime(self) -> timedelta:
        return self.schedule.max_token_lifetime

    def list_keys(self) -> list[KeyInfo]:
        """Every key this ring holds (published, pending or retired), oldest activation first."""
        return list(self._snapshot.infos)

    def verification_key(self, kid: str) -> VerificationKey | None:
        """The parsed public key for `kid`, or None: only our own keys, never header keys."""
        return self._snapshot.verifiers.get(kid)

    def signing_key(self, now: datetime) -> SigningKey:
        """The key that signs at `now`; raises SigningKeyUnavailable if none is active."""
        snapshot = self._snapshot  # read once: a concurrent swap never mixes two snapshots
        info = signing_info(snapshot.infos, now)
        signer = None if info is None else snapshot.signers.get(info.kid)
        if signer is None:
            raise SigningKeyUnavailable(
                f"no active signing key for purpose {self.purpose!r}: run ensure_active first"
            )
        return signer

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The RFC 7517 key set to publish at `now`: public members only (DISC-03).

        Keys are listed newest activation first; a pending key is already here (OIDC-09).
        """
        published = [i for i in reversed(self._snapshot.infos) if i.published(now)]
        return {"keys": [dict(i.public_jwk) for i in published]}

    def _install(self, records: Iterable[KeyRecord]) -> None:
        """Swap in a new snapshot; keys already parsed are reused (parsing is the slow part)."""
        ordered = sorted(records, key=lambda r: (r.info.activate_at, r.info.created_at))
        current = self._snapshot
        verifiers: dict[str, VerificationKey] = {}
        signers: dict[str, SigningKey] = {}
        for record in ordered:
            info = record.info
            old = current.verifiers.get(info.kid)
            verifiers[info.kid] = _rewindowed(old, info) if old else parse_verification_key(info)
            if record.private_pem is not None:
                signers[info.kid] = current.signers.get(info.kid) or parse_signing_key(record)
        self._snapshot = _Snapshot(tuple(r.info for r in ordered), verifiers, signers)

    def _active_info(self, now: datetime) -> KeyInfo:
        info = signing_info(self.list_keys(), now)
        assert info is not None, "a plan that ensures a signer left none"
        return info

    def _info(self, kid: str) -> KeyInfo:
        return next(i for i in self.list_keys() if i.kid == kid)

    def _new_key(self, created_at: datetime, activate_at: datetime) -> KeyRecord:
        return new_record(
            self._key_factory(self.alg),
            alg=self.alg,
            purpose=self.purpose,
            created_at=created_at,
            activate_at=activate_at,
        )


def _rewindowed(old: VerificationKey, info: KeyInfo) -> VerificationKey:
    """The parsed key with the (possibly moved) window of `info`."""
    retire = None if info.retire_at is None else int(info.retire_at.timestamp())
    expire = None if info.expire_at is None else int(info.expire_at.timestamp())
    if (old.retire_s, old.expire_s) == (retire, expire):
        return old
    return dataclasses.replace(old, retire_s=retire, expire_s=expire)


class KeyRing(KeyRingBase):
    """Keys kept in process memory only: for tests, tools and single-process use.

    Keys vanish with the process; a deployment uses `StoreKeyRing` so every node shares them.
    """

    def __init__(
        self,
        *,
        purpose: str = "tokens",
        alg: Algorithm = Algorithm.ES256,
        schedule: RotationSchedule | None = None,
        key_factory: KeyFactory | None = None,
    ) -> None:
        super().__init__(
            purpose=purpose,
            alg=alg,
            schedule=schedule or RotationSchedule(),
            key_factory=key_factory,
        )
        self._records: dict[str, KeyRecord] = {}

    def ensure_active(self, now: datetime) -> KeyInfo:
        """Create a key active at once unless one already signs at `now`; returns the signer."""
        self._apply(plan_ensure(self.list_keys(), now, self.schedule, self._new_key))
        return self._active_info(now)

    def rotate(self, now: datetime) -> KeyInfo:
        """Add a key published now that starts signing after `publish_delay`; returns it."""
        plan = plan_rotate(self.list_keys(), now, self.schedule, self._new_key)
        self._apply(plan)
        return self._info(plan.new[0].info.kid)

    def revoke(self, kid: str, now: datetime) -> None:
        """Remove a compromised key at once (its tokens stop verifying); replace it if it signed."""
        self._apply(plan_revoke(self.list_keys(), kid, now, self.schedule, self._new_key))

    def maintain(self, now: datetime) -> None:
        """Ensure a signer, rotate when `rotation_interval` has passed, drop expired keys."""
        self._apply(plan_maintain(self.list_keys(), now, self.schedule, self._new_key))

    def _apply(self, plan: Plan) -> None:
        if not plan:
            return
        records = dict(self._records)
        for kid in plan.dropped:
            records.pop(kid, None)
        for info in plan.retimed:
            records[info.kid] = KeyRecord(info, records[info.kid].private_pem)
        for record in plan.new:
            records[record.info.kid] = record
        self._install(records.values())
        self._records = records
