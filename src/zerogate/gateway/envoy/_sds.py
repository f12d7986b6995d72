"""The gateway's serving certificate as an SDS file, and the TLS context that reads it.

The listener names one secret, `zerogate_serving`, found through file-based SDS
(`path_config_source` + `watched_directory`). The file names the certificate and key files;
rotating is writing new ones and moving a new SDS file into the watched directory: Envoy loads
the new pair for new handshakes, without a restart, and open connections keep theirs
(workload-identity reference §4.2). Certificate and key files are never rewritten in place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SECRET_NAME = "zerogate_serving"  # noqa: S105 - the name of an SDS resource, not a secret
SDS_FILE = "serving.json"
MIN_TLS_VERSION = "TLSv1_2"
ALPN = ("h2", "http/1.1")
# TLS 1.2 suites: forward secret AEAD only (Mozilla "intermediate"); TLS 1.3 needs no list.
CIPHER_SUITES = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)

_SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"  # noqa: S105
_DOWNSTREAM_TLS = (
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where Envoy finds the serving certificate: the SDS file in a directory of its own.

    `client_ca` (a PEM bundle) turns on mutual TLS for workloads: a client certificate that
    chains to it is verified and its SPIFFE ID reaches the check (`x-forwarded-client-cert`).
    Presenting one stays optional: browsers keep signing in as people.
    """

    sds_dir: Path
    client_ca: Path | None = None

    def __post_init__(self) -> None:
        # Envoy runs with our working directory today; an absolute path keeps that irrelevant.
        object.__setattr__(self, "sds_dir", Path(self.sds_dir).absolute())
        if self.client_ca is not None:
            object.__setattr__(self, "client_ca", Path(self.client_ca).absolute())

    @property
    def sds_file(self) -> Path:
        return self.sds_dir / SDS_FILE

    def config_source(self) -> dict[str, Any]:
        return {
            "resource_api_version": "V3",
            "path_config_source": {
                "path": str(self.sds_file),
                "watched_directory": {"path": str(self.sds_dir)},
            },
        }


def downstream_tls(tls: TlsFiles) -> dict[str, Any]:
    """The listener's transport socket: TLS 1.2 or later, h2 or HTTP/1.1, the SDS certificate,
    and with `client_ca` an optional client certificate verified against it."""
    common: dict[str, Any] = {
        "tls_params": {
            "tls_minimum_protocol_version": MIN_TLS_VERSION,
            "cipher_suites": list(CIPHER_SUITES),
        },
        "alpn_protocols": list(ALPN),
        "tls_certificate_sds_secret_configs": [
            {"name": SECRET_NAME, "sds_config": tls.config_source()},
        ],
    }
    config: dict[str, Any] = {"@type": _DOWNSTREAM_TLS, "common_tls_context": common}
    if tls.client_ca is not None:
        common["validation_context"] = {"trusted_ca": {"filename": str(tls.client_ca)}}
        config["require_client_certificate"] = False  # verified if presented, never required
    return {"name": "envoy.transport_sockets.tls", "typed_config": config}


def sds_document(*, certificate_chain: Path, private_key: Path) -> bytes:
    """The SDS file's content: one `Secret` naming the files, versioned by their paths."""
    secret = {
        "@type": _SECRET_TYPE,
        "name": SECRET_NAME,
        "tls_certificate": {
            "certificate_chain": {"filename": str(Path(certificate_chain).absolute())},
            "private_key": {"filename": str(Path(private_key).absolute())},
        },
    }
    version = hashlib.sha256(orjson.dumps(secret, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    document = {"version_info": version, "resources": [secret]}
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def write_sds(tls: TlsFiles, *, certificate_chain: Path, private_key: Path) -> None:
    """Point Envoy at a certificate and key: a new SDS file, moved into the watched directory.

    The files must not change afterwards; to rotate, write new files and call this again.
    """
    data = sds_document(certificate_chain=certificate_chain, private_key=private_key)
    tls.sds_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=tls.sds_dir, prefix=f".{SDS_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, tls.sds_file)  # the move Envoy watches for (IN_MOVED_TO)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
