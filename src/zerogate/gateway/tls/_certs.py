"""The local CA's certificates: a name-constrained root and short-lived serving leaves.

Pure X.509 building with `cryptography`, no files: `_local_ca` decides where they live.
The root may only vouch for `localhost`, its subdomains and the loopback addresses (RFC 5280
§4.2.1.10 name constraints, critical), so a copy of its key that leaks cannot mint a
certificate any verifier would accept for a real site.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_address

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_LIFETIME = timedelta(days=3650)
LEAF_LIFETIME = timedelta(days=30)
LEAF_DNS_NAMES = ("localhost", "*.localhost")
_LABELS = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+localhost")
LEAF_IP_ADDRESSES = ("127.0.0.1", "::1")
# RFC 5280 reads `localhost` as the name and every subdomain. The leading-dot spelling
# (`.localhost`) is not RFC 5280 for DNS names: strict verifiers (cryptography's, webpki)
# refuse such a constraint as malformed, and with it every leaf of the CA.
PERMITTED_DNS = ("localhost",)
PERMITTED_IPS = (IPv4Network("127.0.0.1/32"), IPv6Network("::1/128"))
# A clock a few minutes behind ours still accepts a brand-new certificate.
_BACKDATE = timedelta(minutes=5)


def new_root(*, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new ECDSA P-256 root that can sign only leaves (path length 0) for local names."""
    key = ec.generate_private_key(ec.SECP256R1())
    tag = secrets.token_hex(4)  # tells two machines' CAs apart in a trust store
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Zerogate local development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Zerogate local CA {tag}"),
        ]
    )
    constraints = x509.NameConstraints(
        permitted_subtrees=[
            *(x509.DNSName(n) for n in PERMITTED_DNS),
            *(x509.IPAddress(net) for net in PERMITTED_IPS),
        ],
        excluded_subtrees=None,
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + ROOT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def new_leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    *,
    now: datetime,
    lifetime: timedelta = LEAF_LIFETIME,
    hosts: tuple[str, ...] = (),
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A serving certificate for localhost, *.localhost, 127.0.0.1, ::1 and `hosts` (names
    under localhost, see `local_hosts`), with a new key.

    `hosts` are listed by name because a wildcard on a one-label parent (`*.localhost`) is
    refused by OpenSSL's host check and by browsers, as for `*.com`. It never outlives its CA:
    a verifier would reject the part of its life past the CA's.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    not_after = min(now + lifetime, ca_cert.not_valid_after_utc)
    names = [
        *(x509.DNSName(n) for n in (*LEAF_DNS_NAMES, *local_hosts(hosts))),
        *(x509.IPAddress(ip_address(a)) for a in LEAF_IP_ADDRESSES),
    ]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def local_hosts(hosts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The names in `hosts` the local CA may vouch for (`x.localhost`, lower case, sorted)."""
    found = {h.lower() for h in hosts if _LABELS.fullmatch(h.lower())}
    return tuple(sorted(found))


def renewal_due(cert: x509.Certificate, *, now: datetime) -> bool:
    """True once less than a third of the certificate's life is left (or it is not valid now)."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not start <= now < end:
        return True
    return (end - now) < (end - start) / 3


def covered_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The DNS names and IP addresses the certificate is for (its subjectAltName)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,  # ECDHE handshakes: the leaf signs, never encrypts
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
