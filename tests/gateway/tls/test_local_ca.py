"""The local CA: what its root and leaves say, where they live, and what it refuses.

Chains are checked with cryptography's RFC 5280 verifier (it enforces name constraints), so
"the root cannot vouch for a real site" is tested by forging such a leaf with the root's key.
"""

from __future__ import annotations

import contextlib
import ssl
import stat
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from zerogate.gateway.tls import LEAF_LIFETIME, LocalCA, TLSError, ca_certificate_path

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.load_or_create(tmp_path / "tls", now=T0)


def _verify(ca: LocalCA, leaf: x509.Certificate, name: x509.GeneralName, at: datetime) -> None:
    subject: x509.DNSName | x509.IPAddress = name  # type: ignore[assignment]
    verifier = (
        PolicyBuilder().store(Store([ca.certificate])).time(at).build_server_verifier(subject)
    )
    verifier.verify(leaf, [])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_ca_root_is_p256_name_constrained_to_local_names(ca: LocalCA) -> None:
    root = ca.certificate
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    basic = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    assert basic.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert not usage.value.digital_signature
    constraints = root.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical  # RFC 5280 §4.2.1.10: a verifier that cannot read it must refuse
    permitted = constraints.value.permitted_subtrees or []
    # `localhost` covers its subdomains (RFC 5280); `.localhost` would be malformed there.
    assert {n.value for n in permitted if isinstance(n, x509.DNSName)} == {"localhost"}
    assert {str(n.value) for n in permitted if isinstance(n, x509.IPAddress)} == {
        "127.0.0.1/32",
        "::1/128",
    }
    assert root.subject == root.issuer
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.startswith(
        "Zerogate local CA "
    )


def test_local_ca_files_are_owner_only_where_secret(ca: LocalCA, tmp_path: Path) -> None:
    assert ca.cert_path == ca_certificate_path(tmp_path / "tls")
    assert _mode(ca.key_path) == 0o600
    assert _mode(tmp_path / "tls") == 0o700
    leaf = ca.serving_certificate(now=T0)
    assert _mode(leaf.private_key) == 0o600
    assert _mode(leaf.certificate_chain) == 0o644


def test_local_ca_leaf_covers_localhost_names_for_30_days(ca: LocalCA) -> None:
    leaf = ca.serving_certificate(now=T0)
    cert = leaf.certificate
    assert leaf.names == ("localhost", "*.localhost", "127.0.0.1", "::1")
    assert leaf.not_after - T0 == LEAF_LIFETIME
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert not usage.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    at = T0 + timedelta(days=1)
    for name in (
        x509.DNSName("localhost"),
        x509.DNSName("app.localhost"),
        x509.IPAddress(IPv4Address("127.0.0.1")),
        x509.IPAddress(IPv6Address("::1")),
    ):
        _verify(ca, cert, name, at)
    with pytest.raises(VerificationError):
        _verify(ca, cert, x509.DNSName("example.com"), at)
    with pytest.raises(VerificationError):  # expired
        _verify(ca, cert, x509.DNSName("localhost"), T0 + LEAF_LIFETIME + timedelta(seconds=1))


def test_local_ca_root_cannot_vouch_for_a_real_site(ca: LocalCA) -> None:
    """A leaked root key still mints nothing a verifier accepts outside localhost."""
    key = serialization.load_pem_private_key(ca.key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    forged_key = ec.generate_private_key(ec.SECP256R1())
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank.example")]))
        .issuer_name(ca.certificate.subject)
        .public_key(forged_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bank.example")]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(VerificationError, match="name constraint"):
        _verify(ca, forged, x509.DNSName("bank.example"), T0 + timedelta(hours=1))


def test_local_ca_is_created_once_and_reused(ca: LocalCA, tmp_path: Path) -> None:
    again = LocalCA.load_or_create(tmp_path / "tls", now=T0 + timedelta(days=400))
    assert again.certificate == ca.certificate
    assert not [p for p in (tmp_path / "tls").iterdir() if p.name.startswith(".")]


def test_local_ca_leaf_is_reused_until_a_third_of_its_life_is_left(ca: LocalCA) -> None:
    first = ca.serving_certificate(now=T0)
    before = T0 + LEAF_LIFETIME * 2 / 3 - timedelta(minutes=10)
    assert ca.serving_certificate(now=before).serial == first.serial
    renewed = ca.serving_certificate(now=T0 + LEAF_LIFETIME * 2 / 3 + timedelta(minutes=10))
    assert renewed.serial != first.serial
    assert renewed.certificate.public_key() != first.certificate.public_key()  # a new key


def test_local_ca_keeps_the_serving_leaf_and_the_one_before(ca: LocalCA, tmp_path: Path) -> None:
    leaves = [ca.issue(now=T0 + timedelta(minutes=i)) for i in range(4)]
    on_disk = sorted(p.name for p in (tmp_path / "tls" / "serving").iterdir())
    kept = sorted(f"{leaf.serial:040x}.{ext}" for leaf in leaves[-2:] for ext in ("key", "pem"))
    assert on_disk == kept
    latest = ca.latest_leaf()
    assert latest is not None
    assert latest.serial == leaves[-1].serial


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_local_ca_refuses_a_key_others_can_open(ca: LocalCA, tmp_path: Path, mode: int) -> None:
    ca.key_path.chmod(mode)
    with pytest.raises(TLSError) as caught:
        LocalCA.load(tmp_path / "tls")
    assert caught.value.code == "tls_key_insecure"
    assert str(ca.key_path) in caught.value.message


def test_local_ca_refuses_a_serving_key_others_can_read(ca: LocalCA) -> None:
    leaf = ca.serving_certificate(now=T0)
    leaf.private_key.chmod(0o644)
    with pytest.raises(TLSError) as caught:
        ca.serving_certificate(now=T0)
    assert caught.value.code == "tls_key_insecure"


def test_local_ca_refuses_an_expired_root(tmp_path: Path) -> None:
    LocalCA.load_or_create(tmp_path / "tls", now=T0)
    with pytest.raises(TLSError) as caught:
        LocalCA.load_or_create(tmp_path / "tls", now=T0 + timedelta(days=3651))
    assert caught.value.code == "tls_ca_expired"


def test_local_ca_load_reports_missing_and_mismatched(tmp_path: Path) -> None:
    with pytest.raises(TLSError) as missing:
        LocalCA.load(tmp_path / "tls")
    assert missing.value.code == "tls_ca_missing"
    assert not (tmp_path / "tls").exists()  # loading never creates
    ca = LocalCA.load_or_create(tmp_path / "tls", now=T0)
    other = LocalCA.load_or_create(tmp_path / "other", now=T0)
    ca.key_path.write_bytes(other.key_path.read_bytes())
    with pytest.raises(TLSError) as mismatched:
        LocalCA.load(tmp_path / "tls")
    assert mismatched.value.code == "tls_ca_invalid"


def test_local_ca_ignores_leaves_of_another_ca(ca: LocalCA, tmp_path: Path) -> None:
    other = LocalCA.load_or_create(tmp_path / "other", now=T0)
    foreign = other.issue(now=T0)
    serving = tmp_path / "tls" / "serving"
    serving.mkdir(mode=0o700)
    (serving / foreign.certificate_chain.name).write_bytes(foreign.certificate_chain.read_bytes())
    (serving / foreign.private_key.name).write_bytes(foreign.private_key.read_bytes())
    (serving / foreign.private_key.name).chmod(0o600)
    assert ca.latest_leaf() is None
    assert ca.serving_certificate(now=T0).serial != foreign.serial


def test_local_ca_leaf_names_route_hosts_that_a_wildcard_would_not_cover(tmp_path: Path) -> None:
    """OpenSSL (and browsers) refuse `*.localhost` for `app.localhost`, as for `*.com`: route
    hosts under localhost are named one by one, and a new one brings a new leaf."""
    now = datetime.now(UTC)  # the handshake below checks validity against the real clock
    ca = LocalCA.load_or_create(tmp_path / "tls-now", now=now)
    first = ca.serving_certificate(now=now)
    assert "app.localhost" not in first.names
    hosts = ("app.localhost", "Wiki.Localhost", "evil.example", "*.x.localhost", "localhost")
    leaf = ca.serving_certificate(now=now, hosts=hosts)
    assert leaf.serial != first.serial
    assert {"app.localhost", "wiki.localhost"} <= set(leaf.names)
    assert "evil.example" not in leaf.names
    assert "*.x.localhost" not in leaf.names
    # Named already: the same leaf; a host fewer: still the same leaf.
    assert ca.serving_certificate(now=now, hosts=("app.localhost",)).serial == leaf.serial
    _verify(ca, leaf.certificate, x509.DNSName("app.localhost"), now)
    # And a TLS client's own host check accepts it (which the wildcard alone would fail).
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(leaf.certificate_chain), str(leaf.private_key))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="app.localhost")
    peer = server.wrap_bio(back_in, back_out, server_side=True)
    for _ in range(10):  # a handshake over memory pipes
        for side in (client, peer):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
    assert client.getpeercert() is not None  # verified, host check included
