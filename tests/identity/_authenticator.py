"""A software WebAuthn authenticator plus browser, for tests: real CBOR, COSE keys and ES256 signatures.

It reads the options JSON our server produces and answers the way a browser holding one passkey
would (attestation "none"), with knobs to break exactly one thing at a time: origin, RP ID,
flags, challenge, sign count, user handle, signature, cross-origin.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "https://login.example.com"
RP_ID = "example.com"

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
_OMIT = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One discoverable ES256 credential on one (software) authenticator.

    `backup_eligible` / `backed_up` set BE / BS; `counting=False` models a passkey provider that
    always reports signCount 0. `user_handle` is remembered from the registration options.
    """

    backup_eligible: bool = False
    backed_up: bool = False
    counting: bool = True
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    sign_count: int = 0
    user_handle: bytes | None = None
    aaguid: bytes = bytes(16)

    def cose_key(self, *, alg: int = -7) -> bytes:
        """The public key as a COSE_Key map (RFC 9053 EC2: kty 2, crv 1 = P-256)."""
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: alg,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def create(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        up: bool = True,
        challenge: bytes | None = None,
        cross_origin: bool = False,
        alg: int = -7,
        client_data_type: str = "webauthn.create",
    ) -> str:
        """RegistrationResponseJSON for navigator.credentials.create(options)."""
        options = json.loads(options_json)
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data(
            client_data_type,
            challenge or unb64url(options["challenge"]),
            origin,
            cross_origin,
        )
        attested = (
            self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_key(alg=alg)
        )
        auth_data = self._auth_data(rp_id or options["rp"]["id"], uv=uv, up=up, extra=AT) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal", "hybrid"],
                },
            }
        )

    def get(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        up: bool = True,
        challenge: bytes | None = None,
        cross_origin: bool = False,
        sign_count: int | None = None,
        user_handle: Any = None,
        backup_eligible: bool | None = None,
        backed_up: bool | None = None,
        forge: bool = False,
        client_data_json: bytes | None = None,
    ) -> str:
        """AuthenticationResponseJSON for navigator.credentials.get(options).

        `user_handle=_OMIT` (see `omit_user_handle`) leaves userHandle out; `forge=True` signs
        with a fresh key instead of the registered one.
        """
        options = json.loads(options_json)
        if sign_count is not None:
            self.sign_count = sign_count
        elif self.counting:
            self.sign_count += 1
        client_data = client_data_json or self._client_data(
            "webauthn.get", challenge or unb64url(options["challenge"]), origin, cross_origin
        )
        auth_data = self._auth_data(
            rp_id or options["rpId"],
            uv=uv,
            up=up,
            be=self.backup_eligible if backup_eligible is None else backup_eligible,
            bs=self.backed_up if backed_up is None else backed_up,
        )
        signer = ec.generate_private_key(ec.SECP256R1()) if forge else self.key
        signature = signer.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        handle = self.user_handle if user_handle is None else user_handle
        if handle is not _OMIT and handle is not None:
            response["userHandle"] = b64url(handle)
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": response,
            }
        )

    def _auth_data(
        self,
        rp_id: str,
        *,
        uv: bool,
        up: bool,
        extra: int = 0,
        be: bool | None = None,
        bs: bool | None = None,
    ) -> bytes:
        flags = extra
        flags |= UP if up else 0
        flags |= UV if uv else 0
        flags |= BE if (self.backup_eligible if be is None else be) else 0
        flags |= BS if (self.backed_up if bs is None else bs) else 0
        count = struct.pack(">I", self.sign_count)
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count

    @staticmethod
    def _client_data(kind: str, challenge: bytes, origin: str, cross_origin: bool) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": b64url(challenge),
                "origin": origin,
                "crossOrigin": cross_origin,
            },
            separators=(",", ":"),
        ).encode()


def omit_user_handle() -> object:
    """Pass as `user_handle=` to leave userHandle out of an assertion."""
    return _OMIT


__all__ = ["ORIGIN", "RP_ID", "SoftAuthenticator", "b64url", "omit_user_handle", "unb64url"]
