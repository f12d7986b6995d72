"""The example policies plus one grant to a workload, for the mutual-TLS tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
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
