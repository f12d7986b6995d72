"""Secrets at rest: values sealed with AES-256-GCM under a master key the database never holds.

A sealed value reads `zgs1.<key id>.<base64url(nonce || ciphertext || tag)>`. The associated data
names where the value lives (say `totp_credentials.secret:<id>`), so a sealed value copied into
another row or column does not open (ASVS 5.0 11.1, 14.2). Older plaintext rows stay readable and
are sealed when next written; `Sealer.passthrough()` keeps values in clear (tests, tools) and
says so in its repr.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zerogate.errors import ConfigError, StoreError

PREFIX = "zgs1"
KEY_BYTES = 32
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"[a-z0-9-]{1,16}")


class Sealer:
    """Seals with the current master key; opens values sealed under any key it knows."""

    __slots__ = ("_current", "_keys", "_raw")

    def __init__(self, keys: Mapping[str, bytes], *, current: str | None) -> None:
        for kid, key in keys.items():
            if not _KEY_ID.fullmatch(kid):
                raise ConfigError(
                    f"master key id {kid!r}: use 1..16 of a-z 0-9 -",
                    code="store_secret_key_invalid",
                )
            if len(key) != KEY_BYTES:
                raise ConfigError(
                    f"master key {kid!r} must be {KEY_BYTES} bytes", code="store_secret_key_invalid"
                )
        if current is not None and current not in keys:
            raise ConfigError(
                "the current master key is not among the keys", code="store_secret_key_invalid"
            )
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._raw = dict(keys)
        self._current = current

    @classmethod
    def passthrough(cls) -> Sealer:
        """No master key: values are written in clear (tests and tools only)."""
        return cls({}, current=None)

    @property
    def sealing(self) -> bool:
        return self._current is not None

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for `purpose` derived from the current master key (HKDF-SHA256), so one
        configured secret also keys, say, the sign-in pages' form signatures on every node."""
        if self._current is None:
            raise ConfigError("no master key configured", code="store_secret_key_missing")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode())
        return hkdf.derive(self._raw[self._current])

    def seal(self, plaintext: str, *, context: str) -> str:
        if self._current is None:
            return plaintext
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{PREFIX}.{self._current}.{body}"

    def unseal(self, stored: str, *, context: str) -> str:
        if not stored.startswith(PREFIX + "."):
            return stored  # written before sealing was configured
        try:
            _, kid, body = stored.split(".", 2)
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, binascii.Error):
            raise _unreadable(context, "malformed") from None
        box = self._keys.get(kid)
        if box is None:
            raise _unreadable(context, f"sealed with master key {kid!r}, which is not configured")
        try:
            return box.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise _unreadable(
                context, "does not open with its master key (altered or moved)"
            ) from None

    def __repr__(self) -> str:
        return (
            f"Sealer(current={self._current!r}, keys={sorted(self._keys)})"
            if self._current
            else "Sealer(passthrough: secrets in clear)"
        )


def parse_master_keys(value: str) -> Sealer:
    """`kid:base64url-key[,kid:key...]`; the first is current. Raises ConfigError."""
    keys: dict[str, bytes] = {}
    first = None
    for part in (p.strip() for p in value.split(",") if p.strip()):
        kid, sep, encoded = part.partition(":")
        if not sep:
            raise ConfigError(
                "store.secret_key: write kid:base64url-key", code="store_secret_key_invalid"
            )
        try:
            keys[kid] = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, binascii.Error):
            raise ConfigError(
                f"store.secret_key {kid!r} is not base64url", code="store_secret_key_invalid"
            ) from None
        first = first or kid
    if first is None:
        raise ConfigError("store.secret_key is empty", code="store_secret_key_invalid")
    return Sealer(keys, current=first)


def new_master_key(kid: str = "k1") -> str:
    """A fresh `kid:key` value for `store.secret_key`."""
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).rstrip(b'=').decode()}"


def _unreadable(context: str, why: str) -> StoreError:
    return StoreError(
        f"a sealed secret ({context.split(':')[0]}) {why}", code="store_secret_unreadable"
    )
