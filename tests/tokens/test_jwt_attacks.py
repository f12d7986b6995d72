"""The JWT attack catalogue (standards §3.2, JWT-A1…A20): every forged token is refused.

Each case builds one malicious token against our own in-memory key ring and names the error code
`verify` must raise; the test id starts with the catalogue ID. A baseline case first proves the
forging helpers make tokens `verify` accepts, so each rejection is due to the attack alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from joserfc import jwe, jws
from joserfc.jwk import ECKey

from tests.tokens.forge import (
    AUDIENCE,
    ISSUER,
    NOW,
    NOW_S,
    P256_N,
    TYPE_CLAIMS,
    Victim,
    access_claims,
    b64,
    b64json,
    compact,
    der_of,
    es256_der,
    es256_fixed,
    es256_raw,
    es256_with,
    hs256,
    make_victim,
)
from zerogate.tokens import (
    BACKCHANNEL_LOGOUT_EVENT,
    KeyRing,
    TokenError,
    TokenType,
    VerifiedToken,
    issue,
    verify,
)


@dataclass(frozen=True)
class Attacker:
    """Everything a case may forge with: our ring (victim) and keys that are not ours."""

    victim: Victim
    ec_key: ec.EllipticCurvePrivateKey
    rsa_key: rsa.RSAPrivateKey
    ed_key: ed25519.Ed25519PrivateKey
    other_ring: KeyRing  # another issuer's ring (JWT-A14)


@pytest.fixture(scope="module")
def attacker() -> Attacker:
    other = KeyRing()
    other.ensure_active(NOW)
    return Attacker(
        victim=make_victim(),
        ec_key=ec.generate_private_key(ec.SECP256R1()),
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed_key=ed25519.Ed25519PrivateKey.generate(),
        other_ring=other,
    )


Build = Callable[[Attacker], str]


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    code: str
    expected_type: TokenType = TokenType.ACCESS


CASES: list[Case] = []


def case(
    case_id: str, code: str, expected_type: TokenType = TokenType.ACCESS
) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES.append(Case(case_id, build, code, expected_type))
        return build

    return register


def forged(
    a: Attacker,
    *,
    header: Any = None,
    claims: Any = None,
    sign: Callable[[bytes], bytes] | str | None = "victim",
) -> str:
    """A token with our kid, signed by our own key unless told otherwise."""
    signer = a.victim.sign() if sign == "victim" else sign
    assert not isinstance(signer, str)
    return compact(
        a.victim.header() if header is None else header,
        access_claims() if claims is None else claims,
        signer,
    )


def valid(a: Attacker) -> str:
    return forged(a)


def with_header(**changes: Any) -> Build:
    """Our key signs; the header is changed (None removes a field)."""
    return lambda a: forged(a, header=a.victim.header(**changes))


def attacker_signed(**changes: Any) -> Build:
    """The attacker's own EC key signs; the header still names our kid unless changed."""
    return lambda a: forged(a, header=a.victim.header(**changes), sign=es256_raw(a.ec_key))


def with_claims(**changes: Any) -> Build:
    """Our key signs a changed claim set (None removes a claim)."""
    return lambda a: forged(a, claims=access_claims(**changes))


def with_header_and_claims(header: dict[str, Any], claims: dict[str, Any]) -> Build:
    return lambda a: forged(a, header=a.victim.header(**header), claims=access_claims(**claims))


def _public_pem(a: Attacker) -> bytes:
    return a.victim.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_der(a: Attacker) -> bytes:
    return a.victim.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs(a: Attacker, secret: bytes) -> str:
    return forged(a, header=a.victim.header(alg="HS256"), sign=hs256(secret))


# --- JWT-A1: alg none --------------------------------------------------------------------------
def _alg_none(alg: str, *, keep_signature: bool) -> Build:
    def build(a: Attacker) -> str:
        if not keep_signature:
            return forged(a, header=a.victim.header(alg=alg), sign=None)
        return ".".join([b64json(a.victim.header(alg=alg)), *valid(a).split(".")[1:]])

    return build


for _alg in ("none", "None", "NONE", "nOnE"):
    case(f"JWT-A1-alg-{_alg}-empty-signature", "token_header_forbidden")(
        _alg_none(_alg, keep_signature=False)
    )
    case(f"JWT-A1-alg-{_alg}-original-signature", "token_header_forbidden")(
        _alg_none(_alg, keep_signature=True)
    )

# --- JWT-A2: HS256 keyed with our public key ---------------------------------------------------
case("JWT-A2-hs256-public-pem", "token_header_forbidden")(lambda a: _hs(a, _public_pem(a)))
case("JWT-A2-hs256-public-pem-no-newline", "token_header_forbidden")(
    lambda a: _hs(a, _public_pem(a).rstrip(b"\n"))
)
case("JWT-A2-hs256-public-der", "token_header_forbidden")(lambda a: _hs(a, _public_der(a)))
case("JWT-A2-hs256-public-jwk-json", "token_header_forbidden")(
    lambda a: _hs(a, json.dumps(dict(a.victim.ring.jwks(NOW)["keys"][0])).encode())
)
case("JWT-A2-hs256-public-openssh", "token_header_forbidden")(
    lambda a: _hs(
        a,
        a.victim.private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    )
)

# --- JWT-A3: signature stripping -----------------------------------------------------------------
case("JWT-A3-empty-signature", "token_signature_invalid")(lambda a: forged(a, sign=None))
case("JWT-A3-no-signature-segment", "token_malformed")(lambda a: valid(a).rsplit(".", 1)[0])
case("JWT-A3-truncated-signature", "token_signature_invalid")(lambda a: valid(a)[:-10])
case("JWT-A3-signature-one-byte-short", "token_signature_invalid")(
    lambda a: forged(a, sign=lambda d: a.victim.sign()(d)[:63])
)

# --- JWT-A4: blank or weak HMAC secret -----------------------------------------------------------
case("JWT-A4-hs256-blank-secret", "token_header_forbidden")(lambda a: _hs(a, b""))


def _weak_hs(secret: bytes) -> Build:
    return lambda a: _hs(a, secret)


for _secret in ("secret", "password", "changeme", "zerogate"):
    case(f"JWT-A4-hs256-weak-secret-{_secret}", "token_header_forbidden")(
        _weak_hs(_secret.encode())
    )


# --- JWT-A5: embedded jwk ------------------------------------------------------------------------
def _embedded_jwk(a: Attacker, kid: str | None) -> str:
    attacker_jwk = ECKey.import_key(a.ec_key).as_dict(private=False)
    header = a.victim.header(jwk=attacker_jwk, kid=kid or ECKey.import_key(a.ec_key).thumbprint())
    return forged(a, header=header, sign=es256_raw(a.ec_key))


case("JWT-A5-embedded-jwk-attacker-kid", "token_header_forbidden")(lambda a: _embedded_jwk(a, None))
case("JWT-A5-embedded-jwk-our-kid", "token_header_forbidden")(
    lambda a: _embedded_jwk(a, a.victim.kid)
)

# --- JWT-A6: jku / x5u ---------------------------------------------------------------------------
for _name, _field, _url in (
    ("jku-attacker-jwks", "jku", "https://attacker.example/jwks.json"),
    ("jku-metadata-ssrf", "jku", "http://169.254.169.254/latest/meta-data/"),
    ("jku-file-url", "jku", "file:///etc/passwd"),
    ("x5u-attacker-cert", "x5u", "https://attacker.example/cert.pem"),
):
    case(f"JWT-A6-{_name}", "token_header_forbidden")(attacker_signed(**{_field: _url}))


# --- JWT-A7: x5c chain ---------------------------------------------------------------------------
def _self_signed_x5c(a: Attacker) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.zerogate.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(a.ec_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(a.ec_key, hashes.SHA256())
    )
    chain = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    return forged(a, header=a.victim.header(x5c=chain), sign=es256_raw(a.ec_key))


case("JWT-A7-x5c-self-signed-chain", "token_header_forbidden")(_self_signed_x5c)

# --- JWT-A8: kid injection -----------------------------------------------------------------------
for _name, _kid in (
    ("path-traversal", "../../../../dev/null"),
    ("sql-injection", "' UNION SELECT 'k'--"),
    ("command-injection", "key|id;$(touch /tmp/pwn)"),
    ("url", "https://attacker.example/key"),
    ("long-200", "k" * 200),
    ("unknown", "A" * 43),
    ("empty", ""),
):
    case(f"JWT-A8-kid-{_name}", "token_key_unknown")(attacker_signed(kid=_kid))

case("JWT-A8-kid-missing", "token_key_unknown")(
    lambda a: forged(a, header={"alg": "ES256", "typ": "at+jwt"})
)
case("JWT-A8-kid-not-a-string", "token_key_unknown")(
    lambda a: forged(a, header=a.victim.header(kid=["x"]))
)
case("JWT-A8-kid-path-traversal-hs256-empty-key", "token_header_forbidden")(
    lambda a: forged(
        a, header=a.victim.header(alg="HS256", kid="../../../../dev/null"), sign=hs256(b"")
    )
)
case("JWT-A8-kid-very-long", "token_too_large")(
    lambda a: forged(a, header=a.victim.header(kid="k" * 5000))
)

# --- JWT-A9: psychic signatures (CVE-2022-21449) -------------------------------------------------
case("JWT-A9-r-s-zero", "token_signature_invalid")(lambda a: forged(a, sign=lambda _d: bytes(64)))
case("JWT-A9-r-equals-n", "token_signature_invalid")(
    lambda a: forged(a, sign=es256_with(a.victim.private, r=P256_N))
)
case("JWT-A9-s-equals-n", "token_signature_invalid")(
    lambda a: forged(a, sign=es256_with(a.victim.private, s=P256_N))
)
case("JWT-A9-r-s-equal-n", "token_signature_invalid")(
    lambda a: forged(a, sign=es256_fixed(P256_N, P256_N))
)
case("JWT-A9-r-zero-real-s", "token_signature_invalid")(
    lambda a: forged(a, sign=es256_with(a.victim.private, r=0))
)

# --- JWT-A10: ECDSA encoding ---------------------------------------------------------------------
case("JWT-A10-der-signature", "token_signature_invalid")(
    lambda a: forged(a, sign=es256_der(a.victim.private))
)
case("JWT-A10-der-of-valid-raw-signature", "token_signature_invalid")(
    lambda a: forged(a, sign=lambda d: der_of(a.victim.sign()(d)))
)


def _non_canonical_signature(a: Attacker) -> str:
    token = valid(a)
    # 64 bytes -> 86 chars: the last char carries 4 unused bits; set one of them.
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(last) ^ 1]


case("JWT-A10-non-canonical-base64-signature", "token_signature_invalid")(_non_canonical_signature)
case("JWT-A10-padded-base64-signature", "token_signature_invalid")(lambda a: valid(a) + "==")

# --- JWT-A11: algorithm substitution across families ---------------------------------------------
case("JWT-A11-ps256", "token_header_forbidden")(
    lambda a: forged(
        a,
        header=a.victim.header(alg="PS256"),
        sign=lambda d: a.rsa_key.sign(
            d,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        ),
    )
)
case("JWT-A11-rs256", "token_header_forbidden")(
    lambda a: forged(
        a,
        header=a.victim.header(alg="RS256"),
        sign=lambda d: a.rsa_key.sign(d, padding.PKCS1v15(), hashes.SHA256()),
    )
)
case("JWT-A11-eddsa", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(alg="EdDSA"), sign=a.ed_key.sign)
)
case("JWT-A11-es384", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(alg="ES384"), sign=es256_raw(a.ec_key))
)
case("JWT-A11-es256-to-hs256-with-ec-public-key", "token_header_forbidden")(
    lambda a: _hs(a, _public_pem(a))
)
case("JWT-A11-alg-not-a-string", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(alg=["ES256"]))
)

# --- JWT-A12: expired / not yet valid ------------------------------------------------------------
for _name, _changes, _code in (
    ("exp-past", {"iat": NOW_S - 600, "nbf": NOW_S - 600, "exp": NOW_S - 300}, "token_expired"),
    (
        "exp-just-beyond-leeway",
        {"iat": NOW_S - 330, "nbf": NOW_S - 330, "exp": NOW_S - 30},
        "token_expired",
    ),
    ("nbf-future", {"nbf": NOW_S + 3600}, "token_not_yet_valid"),
    (
        "iat-far-future",
        {"iat": NOW_S + 86_400, "nbf": None, "exp": NOW_S + 86_700},
        "token_not_yet_valid",
    ),
    ("exp-missing", {"exp": None}, "token_malformed"),
    ("exp-string", {"exp": str(NOW_S + 300)}, "token_malformed"),
    ("exp-float", {"exp": NOW_S + 300.5}, "token_malformed"),
    ("exp-bool", {"exp": True}, "token_malformed"),
    ("exp-huge", {"exp": 2**62}, "token_malformed"),
    ("exp-beyond-max-lifetime", {"exp": NOW_S + 86_400}, "token_malformed"),
    ("exp-negative", {"exp": -1}, "token_malformed"),
    ("iat-missing", {"iat": None}, "token_malformed"),
    ("iat-string", {"iat": str(NOW_S)}, "token_malformed"),
    ("nbf-float", {"nbf": NOW_S + 0.5}, "token_malformed"),
):
    case(f"JWT-A12-{_name}", _code)(with_claims(**_changes))
case("JWT-A12-exp-huge-integer-literal", "token_malformed")(
    lambda a: forged(a, claims=json.dumps(access_claims()).replace(str(NOW_S + 300), "9" * 40))
)

# --- JWT-A13: audience confusion -----------------------------------------------------------------
for _name, _aud in (
    ("other-resource-server", "https://other-api.zerogate.test"),
    ("extra-untrusted-audience", [AUDIENCE, "https://evil.example"]),
    ("missing", None),
    ("empty-list", []),
    ("not-a-string", 42),
    ("prefix-of-expected", AUDIENCE + ".evil.example"),
    ("list-of-non-strings", [AUDIENCE, 1]),
):
    case(f"JWT-A13-aud-{_name}", "token_audience_mismatch")(with_claims(aud=_aud))


# --- JWT-A14: issuer confusion -------------------------------------------------------------------
def _other_issuers_token(a: Attacker) -> str:
    return issue(
        {"sub": "alice", "client_id": "web-app"},
        keys=a.other_ring,
        issuer=ISSUER,
        typ=TokenType.ACCESS,
        audience=AUDIENCE,
        now=NOW,
    )


case("JWT-A14-other-issuers-key-ring", "token_key_unknown")(_other_issuers_token)
case("JWT-A14-dev-idp-issuer", "token_issuer_mismatch")(
    lambda a: forged(a, claims=access_claims(iss="https://dev-idp.zerogate.test"))
)
case("JWT-A14-issuer-trailing-slash", "token_issuer_mismatch")(
    lambda a: forged(a, claims=access_claims(iss=ISSUER + "/"))
)
case("JWT-A14-issuer-missing", "token_issuer_mismatch")(
    lambda a: forged(a, claims=access_claims(iss=None))
)


# --- JWT-A15: cross-JWT / type confusion ---------------------------------------------------------
def issued(a: Attacker, token_type: TokenType) -> str:
    return issue(
        TYPE_CLAIMS[token_type],
        keys=a.victim.ring,
        issuer=ISSUER,
        typ=token_type,
        audience=AUDIENCE,
        now=NOW,
    )


def _issued_as(token_type: TokenType) -> Build:
    return lambda a: issued(a, token_type)


for _given in TokenType:
    for _expected in TokenType:
        if _given is not _expected:
            case(
                f"JWT-A15-{_given.name.lower()}-as-{_expected.name.lower()}",
                "token_type_mismatch",
                _expected,
            )(_issued_as(_given))
for _name, _typ_header, _claim_changes, _expected in (
    ("access-typ-with-nonce", "at+jwt", {"nonce": "n"}, TokenType.ACCESS),
    (
        "access-typ-with-logout-events",
        "at+jwt",
        {"events": {BACKCHANNEL_LOGOUT_EVENT: {}}},
        TokenType.ACCESS,
    ),
    ("id-typ-with-client-id", "JWT", {}, TokenType.ID),
    ("typ-missing", None, {}, TokenType.ACCESS),
    ("typ-upper-case", "AT+JWT", {}, TokenType.ACCESS),
    ("typ-plain-jwt-as-access", "JWT", {}, TokenType.ACCESS),
    ("typ-secevent", "secevent+jwt", {}, TokenType.ACCESS),
    ("typ-not-a-string", ["at+jwt"], {}, TokenType.ACCESS),
):
    case(f"JWT-A15-{_name}", "token_type_mismatch", _expected)(
        with_header_and_claims({"typ": _typ_header}, _claim_changes)
    )

# --- JWT-A16: crit -------------------------------------------------------------------------------
case("JWT-A16-crit-unknown-extension", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(crit=["x"], x="1"))
)
case("JWT-A16-crit-registered-name", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(crit=["exp"], exp=NOW_S))
)
case("JWT-A16-crit-empty", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(crit=[]))
)
case("JWT-A16-unknown-header-field", "token_header_forbidden")(
    lambda a: forged(a, header=a.victim.header(cty="JWT"))
)


# --- JWT-A17: JSON parsing differentials ---------------------------------------------------------
def _with_text(
    a: Attacker, header_text: str | bytes | None = None, claims_text: str | bytes | None = None
) -> str:
    header = json.dumps(a.victim.header(), separators=(",", ":"))
    claims = json.dumps(access_claims(), separators=(",", ":"))
    return forged(
        a,
        header=header if header_text is None else header_text,
        claims=claims if claims_text is None else claims_text,
    )


def _dup_sub(a: Attacker) -> str:
    text = json.dumps(access_claims(), separators=(",", ":"))
    return _with_text(a, claims_text=text[:-1] + ',"sub":"admin"}')


def _dup_alg(a: Attacker) -> str:
    text = json.dumps(a.victim.header(), separators=(",", ":"))
    return _with_text(a, header_text=text[:-1] + ',"alg":"none"}')


def _claims_bytes(a: Attacker) -> bytes:
    return json.dumps(access_claims(), separators=(",", ":")).encode()


case("JWT-A17-duplicate-sub", "token_malformed")(_dup_sub)
case("JWT-A17-duplicate-alg", "token_malformed")(_dup_alg)
case("JWT-A17-bom-payload", "token_malformed")(
    lambda a: _with_text(a, claims_text=b"\xef\xbb\xbf" + _claims_bytes(a))
)
case("JWT-A17-bom-header", "token_malformed")(
    lambda a: _with_text(a, header_text=b"\xef\xbb\xbf" + json.dumps(a.victim.header()).encode())
)
case("JWT-A17-invalid-utf8", "token_malformed")(
    lambda a: _with_text(a, claims_text=_claims_bytes(a).replace(b'"alice"', b'"al\xffice"'))
)
case("JWT-A17-utf16", "token_malformed")(
    lambda a: _with_text(a, claims_text=json.dumps(access_claims()).encode("utf-16"))
)
case("JWT-A17-lone-surrogate", "token_malformed")(
    lambda a: _with_text(a, claims_text=_claims_bytes(a).replace(b'"alice"', b'"al\\ud800ice"'))
)
case("JWT-A17-huge-integer", "token_malformed")(
    lambda a: _with_text(a, claims_text=_claims_bytes(a)[:-1] + b',"n":' + b"1" * 5000 + b"}")
)
case("JWT-A17-nan", "token_malformed")(
    lambda a: _with_text(a, claims_text=_claims_bytes(a)[:-1] + b',"n":NaN}')
)
case("JWT-A17-payload-not-an-object", "token_malformed")(
    lambda a: _with_text(a, claims_text=b'["sub","alice"]')
)
case("JWT-A17-deeply-nested", "token_malformed")(
    lambda a: _with_text(a, claims_text=b"[" * 5000 + b"]" * 5000)
)
case("JWT-A17-header-not-base64url", "token_malformed")(lambda a: "!!" + valid(a)[2:])


# --- JWT-A18: JWS JSON serialization -------------------------------------------------------------
def _json_serialization(a: Attacker, general: bool) -> str:
    payload = json.dumps(access_claims()).encode()
    protected = a.victim.header()
    members: Any = (
        [{"protected": protected}, {"protected": protected}]
        if general
        else {"protected": protected, "header": {"kid": a.victim.kid}}
    )
    return json.dumps(jws.serialize_json(members, payload, a.victim.jwk))


case("JWT-A18-general-json-two-signatures", "token_malformed")(
    lambda a: _json_serialization(a, general=True)
)
case("JWT-A18-flattened-json-unprotected-header", "token_malformed")(
    lambda a: _json_serialization(a, general=False)
)

# --- JWT-A19: JWE ---------------------------------------------------------------------------------
case("JWT-A19-jwe-compact-five-parts", "token_malformed")(
    lambda a: jwe.encrypt_compact(
        {"alg": "ECDH-ES", "enc": "A128GCM"}, json.dumps(access_claims()).encode(), a.victim.jwk
    )
)
for _name, _extra in (
    ("zip-deflate-header", {"zip": "DEF"}),
    ("enc-header", {"enc": "A128GCM"}),
    ("pbes2-huge-p2c", {"p2c": 10**9, "p2s": "c2FsdA"}),
):
    case(f"JWT-A19-{_name}", "token_header_forbidden")(with_header(**_extra))


# --- JWT-A20: claim tampering --------------------------------------------------------------------
def _tampered(**changes: Any) -> Build:
    """Our valid token with its payload swapped, keeping the original signature."""

    def build(a: Attacker) -> str:
        header, _payload, signature = valid(a).split(".")
        return f"{header}.{b64json(access_claims(**changes))}.{signature}"

    return build


for _name, _payload_changes in (
    ("sub", {"sub": "admin"}),
    ("scope", {"scope": "read write admin"}),
    ("roles", {"roles": ["admin"]}),
    ("tenant", {"tenant": "other-tenant"}),
    ("exp-extended", {"exp": NOW_S + 3000}),
):
    case(f"JWT-A20-tampered-{_name}", "token_signature_invalid")(_tampered(**_payload_changes))
case("JWT-A20-tampered-header-typ", "token_signature_invalid")(
    lambda a: b64json(a.victim.header(typ="application/at+jwt")) + valid(a)[valid(a).index(".") :]
)


def _verify(a: Attacker, token: str, expected_type: TokenType = TokenType.ACCESS) -> VerifiedToken:
    return verify(
        token,
        keys=a.victim.ring,
        expected_type=expected_type,
        expected_issuer=ISSUER,
        expected_audience=AUDIENCE,
        now=NOW,
    )


def test_jwt_attacks_forged_baseline_is_accepted(attacker: Attacker) -> None:
    """The helpers make tokens verify accepts: each case below differs by its attack only."""
    _verify(attacker, valid(attacker))
    _verify(attacker, _with_text(attacker))
    for token_type in TokenType:
        _verify(attacker, issued(attacker, token_type), token_type)


@pytest.mark.parametrize("attack", [pytest.param(c, id=c.id) for c in CASES])
def test_jwt_attacks_token_is_rejected_with_code(attacker: Attacker, attack: Case) -> None:
    token = attack.build(attacker)
    with pytest.raises(TokenError) as caught:
        _verify(attacker, token, attack.expected_type)
    assert caught.value.code == attack.code, caught.value.message
    assert caught.value.status == 401
    # Audit text names the check, never the token or its signature.
    signature = token.rsplit(".", 1)[-1]
    assert len(signature) < 8 or signature not in caught.value.message


def test_jwt_attacks_every_catalogue_entry_has_cases() -> None:
    covered = {c.id.split("-")[1] for c in CASES}
    assert covered == {f"A{n}" for n in range(1, 21)}
    assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"


def test_jwt_attacks_high_s_signature_verifies_with_same_jti(attacker: Attacker) -> None:
    """JWT-A10 note: a high-S twin is a valid JWS; replay caches must key on jti, not the token."""
    token = valid(attacker)
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    twin = f"{header}.{payload}.{b64(r.to_bytes(32, 'big') + (P256_N - s).to_bytes(32, 'big'))}"
    assert twin != token
    first, second = _verify(attacker, token), _verify(attacker, twin)
    assert first.jti == second.jti == "jti-1"
