"""The example policies plus one grant to a workload, for the mutual-TLS tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.policy._org import EXAMPLES
from zerogate.policy import Bundle, CompiledBundle, compile_bundle

BILLING = "spiffe://example.test/ns/prod/sa/billing"
WORKLOAD_POLICY = f"""
// The billing service may read the ledger API; no other workload may.
@id("billing-reads-ledger")
@reason("only the billing service reads the ledger")
permit (
  principal == Workload::"{BILLING}",
  action == Action::"GET",
  resource == Route::"ledger-api"
);
"""


def bundle_with_workload_policy() -> CompiledBundle:
    files = dict(Bundle.from_dir(EXAMPLES).files)
    files["workloads.cedar"] = WORKLOAD_POLICY
    return compile_bundle(Bundle(files))


def make_ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed P-256 CA valid for the next hour (client and workload certificate tests)."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_svid(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], spiffe_id: str, directory: Path
) -> tuple[Path, Path]:
    """An X.509-SVID for `spiffe_id`: one URI SAN, client auth, signed by `ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(minutes=5))
        .not_valid_after(datetime.now(UTC) + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca[1], hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "svid.pem", directory / "svid.key"
    cert_path.write_bytes(pem(cert))
    key_path.write_bytes(key_pem(key))
    return cert_path, key_path
