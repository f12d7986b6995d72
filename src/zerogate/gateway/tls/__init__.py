"""Local TLS for the gateway: a generated, name-constrained root CA for `localhost` and
`*.localhost`, and the short-lived serving certificates it issues (docs/gateway.md#local-tls).

Knows nothing of Envoy: the composition root hands a `ServingCertificate`'s files to the
gateway's SDS file, which Envoy re-reads without a restart.
"""

from zerogate.gateway.tls._certs import (
    LEAF_DNS_NAMES,
    LEAF_IP_ADDRESSES,
    LEAF_LIFETIME,
    ROOT_LIFETIME,
)
from zerogate.gateway.tls._local_ca import (
    LocalCA,
    ServingCertificate,
    TLSError,
    ca_certificate_path,
)

__all__ = [
    "LEAF_DNS_NAMES",
    "LEAF_IP_ADDRESSES",
    "LEAF_LIFETIME",
    "ROOT_LIFETIME",
    "LocalCA",
    "ServingCertificate",
    "TLSError",
    "ca_certificate_path",
]
