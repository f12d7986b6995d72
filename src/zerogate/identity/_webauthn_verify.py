"""WebAuthn ceremony logic without I/O: options, parsing, and verification through py_webauthn.

py_webauthn does every cryptographic and structural check (CBOR, COSE keys, attestation
statements, signatures); this module decides what we ask it for and adds the relying-party
rules it leaves to us: no cross-origin ceremonies (WA-R2), credential id length (WA-R8), the
user handle (WA-A1), backup eligibility fixed at registration (WA-A2) and the sign count (WA-A4).
When py_webauthn refuses, `_diagnose` re-reads the response with py_webauthn's own parsers only to
name a reason for the audit log; the refusal itself stands whatever the diagnosis says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorData,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ClientDataType,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from zerogate.identity._model import User
from zerogate.identity._webauthn_db import Ceremony, PasskeyCredential, StoredPasskey
from zerogate.identity._webauthn_model import (
    CREDENTIAL_ID_MAX_BYTES,
    PasskeyFailureReason,
    PasskeyInvalid,
    RelyingParty,
)

Reason = PasskeyFailureReason
C = TypeVar("C", RegistrationCredential, AuthenticationCredential)

# Offered in this order of preference (WA-R6: a key of any other algorithm is refused).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,  # ES256: every platform authenticator and key
    COSEAlgorithmIdentifier.EDDSA,  # Ed25519: newer security keys
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,  # RS256: Windows Hello
]
_MAX_TRANSPORTS = 8


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user.id of a user: our random `usr_…` id, which carries no personal data.

    One handle per account, so an authenticator keeps one passkey per account and RP (§5.4.3).
    """
    return user_id.encode("ascii")


def registration_options(
    rp: RelyingParty,
    user: User,
    *,
    challenge: bytes,
    user_verification: bool,
    exclude: Sequence[PasskeyCredential],
    timeout_ms: int,
) -> str:
    """PublicKeyCredentialCreationOptions as JSON: a discoverable credential, attestation "none"."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.username,
        user_id=user_handle(user.id),
        user_display_name=user.display_name or user.username,
        challenge=challenge,
        timeout=timeout_ms,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            # A passkey is a discoverable credential: it must also work for username-less sign-in.
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=_requirement(user_verification),
        ),
        exclude_credentials=[_descriptor(c) for c in exclude],  # one passkey per authenticator
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json(options)


def authentication_options(
    rp: RelyingParty,
    *,
    challenge: bytes,
    user_verification: bool,
    allow: Sequence[PasskeyCredential],
    timeout_ms: int,
) -> str:
    """PublicKeyCredentialRequestOptions as JSON; an empty `allow` asks for a discoverable one."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=[_descriptor(c) for c in allow],
        user_verification=_requirement(user_verification),
    )
    return options_to_json(options)


def parse_registration(text: object, *, max_bytes: int) -> RegistrationCredential:
    """The browser's RegistrationResponseJSON, bounded and parsed; PasskeyInvalid(malformed)."""
    try:
        parsed = parse_registration_credential_json(_json_object(text, max_bytes=max_bytes))
    except PasskeyInvalid:
        raise
    except Exception:  # py_webauthn and base64 errors alike: nothing usable
        raise PasskeyInvalid(Reason.MALFORMED) from None
    return _with_canonical_id(parsed)


def parse_assertion(text: object, *, max_bytes: int) -> AuthenticationCredential:
    """The browser's AuthenticationResponseJSON, bounded and parsed; PasskeyInvalid(malformed)."""
    try:
        parsed = parse_authentication_credential_json(_json_object(text, max_bytes=max_bytes))
    except PasskeyInvalid:
        raise
    except Exception:
        raise PasskeyInvalid(Reason.MALFORMED) from None
    return _with_canonical_id(parsed)


def verify_registration(
    credential: RegistrationCredential, *, rp: RelyingParty, ceremony: Ceremony
) -> VerifiedRegistration:
    """WebAuthn §7.1 through py_webauthn; raises PasskeyInvalid with the reason."""
    client_data = credential.response.client_data_json
    _refuse_cross_origin(client_data)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_presence=True,
            require_user_verification=ceremony.user_verification,
            supported_pub_key_algs=ALGORITHMS,
        )
    except Exception:
        reason = _diagnose(
            client_data,
            lambda: parse_attestation_object(credential.response.attestation_object).auth_data,
            expected_type=ClientDataType.WEBAUTHN_CREATE,
            rp=rp,
            ceremony=ceremony,
            otherwise=Reason.ATTESTATION_INVALID,
        )
        raise PasskeyInvalid(reason) from None
    # WA-R8: the id is bounded, and the one the browser reported is the one the key belongs to.
    if len(verified.credential_id) > CREDENTIAL_ID_MAX_BYTES:
        raise PasskeyInvalid(Reason.MALFORMED)
    if verified.credential_id != credential.raw_id:
        raise PasskeyInvalid(Reason.MALFORMED)
    return verified


def verify_assertion(
    credential: AuthenticationCredential,
    *,
    rp: RelyingParty,
    ceremony: Ceremony,
    stored: StoredPasskey,
) -> VerifiedAuthentication:
    """WebAuthn §7.2 through py_webauthn, then backup eligibility and the sign count."""
    owner = stored.credential.user_id
    handle = credential.response.user_handle
    # WA-A1: a username-less sign-in learns the account from userHandle, so it must be there;
    # when present it must name the passkey's owner.
    if (handle is None and ceremony.user_id is None) or (
        handle is not None and handle != user_handle(owner)
    ):
        raise PasskeyInvalid(Reason.USER_HANDLE_MISMATCH, user_id=owner)
    client_data = credential.response.client_data_json
    _refuse_cross_origin(client_data)
    try:
        # The sign count is checked below, after the signature, in the order of §7.2 (steps 21,
        # 22): a forged assertion must read as a bad signature, not as a cloned authenticator.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=stored.public_key,
            credential_current_sign_count=0,
            require_user_verification=ceremony.user_verification,
        )
    except Exception:
        reason = _diagnose(
            client_data,
            lambda: parse_authenticator_data(credential.response.authenticator_data),
            expected_type=ClientDataType.WEBAUTHN_GET,
            rp=rp,
            ceremony=ceremony,
            otherwise=Reason.SIGNATURE_INVALID,
        )
        raise PasskeyInvalid(reason, user_id=owner) from None
    if backup_eligible(verified) != stored.credential.backup_eligible:  # WA-A2: BE never changes
        raise PasskeyInvalid(Reason.BACKUP_STATE_INVALID, user_id=owner)
    if sign_count_regressed(stored.credential.sign_count, verified.new_sign_count):
        raise PasskeyInvalid(Reason.SIGN_COUNT_REGRESSED, user_id=owner)
    return verified


def backup_eligible(verified: VerifiedRegistration | VerifiedAuthentication) -> bool:
    """The BE flag: a multi-device credential, which a passkey provider may sync (L3 §6.1.3)."""
    return verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE


def sign_count_regressed(stored: int, received: int) -> bool:
    """WA-A4 (WebAuthn §6.1.1): a counter that does not grow may mean a cloned authenticator.

    Both zero is fine: many passkey providers (synced ones especially) never count.
    """
    return (stored != 0 or received != 0) and received <= stored


def transports_of(credential: RegistrationCredential) -> list[str]:
    """The transports the browser reported (known values only, at most 8), as stored hints."""
    found = credential.response.transports or []
    return list(dict.fromkeys(t.value for t in found))[:_MAX_TRANSPORTS]


def _requirement(required: bool) -> UserVerificationRequirement:
    if required:
        return UserVerificationRequirement.REQUIRED
    return UserVerificationRequirement.PREFERRED


def _descriptor(credential: PasskeyCredential) -> PublicKeyCredentialDescriptor:
    known = {t.value: t for t in AuthenticatorTransport}
    transports = [known[t] for t in credential.transports if t in known]
    return PublicKeyCredentialDescriptor(id=credential.credential_id, transports=transports or None)


def _json_object(text: object, *, max_bytes: int) -> dict[str, Any]:
    """A JSON object of at most `max_bytes` UTF-8 bytes, or PasskeyInvalid(malformed)."""
    if not isinstance(text, str) or len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise PasskeyInvalid(Reason.MALFORMED)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise PasskeyInvalid(Reason.MALFORMED) from None
    if not isinstance(value, dict):
        raise PasskeyInvalid(Reason.MALFORMED)
    return value


def _with_canonical_id(credential: C) -> C:
    """Refuse an empty or non-canonical base64url id before it is used to look anything up.

    (Python's base64 decoder skips characters outside the alphabet, so "!!" would decode to an
    empty id; py_webauthn compares `id` with `rawId` only later, inside verification.)
    """
    raw = credential.raw_id
    if not raw or bytes_to_base64url(raw) != credential.id:
        raise PasskeyInvalid(Reason.MALFORMED)
    return credential


def _refuse_cross_origin(client_data: bytes) -> None:
    """WA-R2: we never run ceremonies inside another site's iframe, so crossOrigin must be false.

    (py_webauthn parses `crossOrigin` but leaves the decision to the relying party.)
    """
    try:
        parsed = parse_client_data_json(client_data)
    except Exception:
        raise PasskeyInvalid(Reason.MALFORMED) from None
    if parsed.cross_origin:
        raise PasskeyInvalid(Reason.ORIGIN_MISMATCH)


def _diagnose(
    client_data: bytes,
    authenticator_data: Any,
    *,
    expected_type: ClientDataType,
    rp: RelyingParty,
    ceremony: Ceremony,
    otherwise: Literal[Reason.ATTESTATION_INVALID, Reason.SIGNATURE_INVALID],
) -> PasskeyFailureReason:
    """Name the first failed check (in WebAuthn §7 order) for the audit log."""
    try:
        client = parse_client_data_json(client_data)
        auth: AuthenticatorData = authenticator_data()
    except Exception:
        return Reason.MALFORMED
    if client.type != expected_type:
        return Reason.MALFORMED
    if client.challenge != ceremony.challenge:
        return Reason.CHALLENGE_MISMATCH
    if client.origin not in rp.origins:
        return Reason.ORIGIN_MISMATCH
    if auth.rp_id_hash != hashlib.sha256(rp.id.encode()).digest():
        return Reason.RP_ID_MISMATCH
    if not auth.flags.up:
        return Reason.USER_PRESENCE_MISSING
    if ceremony.user_verification and not auth.flags.uv:
        return Reason.USER_VERIFICATION_MISSING
    if auth.flags.bs and not auth.flags.be:  # WA-R5: a backed-up key must be backup-eligible
        return Reason.BACKUP_STATE_INVALID
    return otherwise


__all__ = [
    "ALGORITHMS",
    "authentication_options",
    "backup_eligible",
    "parse_assertion",
    "parse_registration",
    "registration_options",
    "sign_count_regressed",
    "transports_of",
    "user_handle",
    "verify_assertion",
    "verify_registration",
]
