"""The local CA on disk: created on first use, its keys readable by their owner only, and the
serving certificates it issues, each in files of its own, renewed when a third of life is left.

Layout under the directory (`DATA_DIR/tls` for `zerogate up`):

    ca/ca.pem   the root to trust (public)        ca/ca.key   its key (0600)
    serving/SERIAL.pem, serving/SERIAL.key (0600)  the leaves; the newest valid one serves

Files are never rewritten in place: each is written to a temp file and renamed, and the `ca/`
directory appears whole by one rename, so a crash or a second process starting at the same
moment never leaves half a CA. A leaf's key is renamed in before its certificate, so a
certificate on disk always has its key.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from zerogate.errors import ZerogateError
from zerogate.gateway.tls._certs import (
    covered_names,
    local_hosts,
    new_leaf,
    new_root,
    renewal_due,
)

CA_DIR, CA_CERT, CA_KEY = "ca", "ca.pem", "ca.key"
SERVING_DIR = "serving"
KEEP_LEAVES = 2  # the serving one and the one before: Envoy may still be reading it


class TLSError(ZerogateError):
    """The local CA or a serving certificate cannot be used (codes in docs/gateway.md)."""

    code = "tls_ca_invalid"


@dataclass(frozen=True, slots=True)
class ServingCertificate:
    """One leaf on disk: the files Envoy reads and what they say."""

    certificate_chain: Path
    private_key: Path
    certificate: x509.Certificate

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def names(self) -> tuple[str, ...]:
        return covered_names(self.certificate)

    def renewal_due(self, *, now: datetime) -> bool:
        return renewal_due(self.certificate, now=now)


def ca_certificate_path(directory: Path) -> Path:
    """Where the root people trust lives (whether or not it exists yet)."""
    return directory / CA_DIR / CA_CERT


class LocalCA:
    """A loaded root CA and the serving certificates it issues under `directory`."""

    def __init__(
        self, directory: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
    ) -> None:
        self.directory = directory
        self._key = key
        self.certificate = cert

    @property
    def cert_path(self) -> Path:
        return ca_certificate_path(self.directory)

    @property
    def key_path(self) -> Path:
        return self.directory / CA_DIR / CA_KEY

    @classmethod
    def load(cls, directory: Path) -> LocalCA:
        """The CA in `directory`; raises TLSError when it is missing, broken or exposed."""
        ca_dir = directory / CA_DIR
        cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
        if not cert_path.exists() and not key_path.exists():
            raise TLSError(f"no local CA in {directory}", code="tls_ca_missing")
        cert = _read_certificate(cert_path)
        key = _read_key(key_path)
        if key.public_key() != cert.public_key():
            raise TLSError(f"{key_path} is not the key of {cert_path}")
        try:
            basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            basic = None
        if basic is None or not basic.ca:
            raise TLSError(f"{cert_path} is not a CA certificate")
        return cls(directory, key, cert)

    @classmethod
    def load_or_create(cls, directory: Path, *, now: datetime) -> LocalCA:
        """The CA in `directory`, created first if there is none. Refuses an expired one."""
        if not (directory / CA_DIR).exists():
            _create(directory, now=now)
        ca = cls.load(directory)
        if not ca.certificate.not_valid_before_utc <= now < ca.certificate.not_valid_after_utc:
            raise TLSError(
                f"the local CA {ca.cert_path} is not valid now (until "
                f"{ca.certificate.not_valid_after_utc:%Y-%m-%d}): move {directory} away to "
                "create a new one, and trust that one instead",
                code="tls_ca_expired",
            )
        return ca

    def serving_certificate(
        self, *, now: datetime, hosts: tuple[str, ...] = ()
    ) -> ServingCertificate:
        """The leaf to serve: the newest one while it has more than a third of its life left
        and names every `x.localhost` host of `hosts`, else a new one."""
        current = self.latest_leaf()
        wanted = set(local_hosts(hosts))
        if (
            current is not None
            and not current.renewal_due(now=now)
            and wanted <= set(current.names)
        ):
            return current
        return self.issue(now=now, hosts=hosts)

    def issue(self, *, now: datetime, hosts: tuple[str, ...] = ()) -> ServingCertificate:
        """A new leaf with a new key, written beside the others; old ones beyond two go."""
        key, cert = new_leaf(self._key, self.certificate, now=now, hosts=hosts)
        folder = self.directory / SERVING_DIR
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = f"{cert.serial_number:040x}"
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.pem"
        _write(key_path, key_pem, mode=0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        self._prune()
        return ServingCertificate(cert_path, key_path, cert)

    def latest_leaf(self) -> ServingCertificate | None:
        """The most recently issued leaf of this CA on disk (valid or not), if any.

        Raises TLSError (`tls_key_insecure`) if its key can be read by others than its owner.
        """
        leaves = self._leaves()
        if not leaves:
            return None
        newest = leaves[-1]
        key = _read_key(newest.private_key)
        if key.public_key() != newest.certificate.public_key():
            raise TLSError(f"{newest.private_key} is not the key of {newest.certificate_chain}")
        return newest

    def _leaves(self) -> list[ServingCertificate]:
        """This CA's leaves that have a key file, oldest first."""
        found = []
        for path in (self.directory / SERVING_DIR).glob("*.pem"):
            key_path = path.with_suffix(".key")
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                cert.verify_directly_issued_by(self.certificate)
            except (OSError, ValueError, TypeError, InvalidSignature):
                continue  # not ours (an older CA's), or not a certificate: never served
            if key_path.exists():
                found.append(ServingCertificate(path, key_path, cert))
        # Two leaves issued within a second share `not_before`: the file written last is newer.
        return sorted(
            found,
            key=lambda leaf: (leaf.not_before, _written_ns(leaf.certificate_chain)),
        )

    def _prune(self) -> None:
        for old in self._leaves()[:-KEEP_LEAVES]:
            old.certificate_chain.unlink(missing_ok=True)
            old.private_key.unlink(missing_ok=True)


def _written_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # pruned meanwhile: the oldest
        return 0


def _create(directory: Path, *, now: datetime) -> None:
    """Write a new CA into a temp directory, then rename it to `ca/` (a racing process's CA,
    renamed first, wins and ours is dropped)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key, cert = new_root(now=now)
    scratch = Path(tempfile.mkdtemp(dir=directory, prefix=".ca-"))
    try:
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(scratch / CA_KEY, key_pem, mode=0o600)
        _write(scratch / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        try:
            scratch.rename(directory / CA_DIR)
        except OSError:
            if not (directory / CA_DIR).is_dir():
                raise
    finally:
        if scratch.exists():
            for child in scratch.iterdir():
                child.unlink()
            scratch.rmdir()


def _write(path: Path, data: bytes, *, mode: int) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise TLSError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise TLSError(f"{path} is not a PEM certificate") from None


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A private key file, refused before it is read if others than its owner may open it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise TLSError(f"cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise TLSError(
            f"{path} is open to others than its owner (mode {mode:04o}): chmod 600 {path}",
            code="tls_key_insecure",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise TLSError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise TLSError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise TLSError(f"{path} is not an ECDSA P-256 key")
    return key
