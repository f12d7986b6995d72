"""TLS on the gateway listener: the shape Envoy is given, and a real Envoy serving our local
CA's leaf, rotated through the SDS file without a restart.

Clients here trust only the test's own local CA (an `ssl.SSLContext` with that one root), so a
successful request proves the chain, the names and the protocol, not a disabled check.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from envoy_support import Upstream, make_gateway, run, until

from zerogate.errors import ConfigError
from zerogate.gateway.envoy import (
    SECRET_NAME,
    EnvoyProcess,
    Gateway,
    Route,
    TlsFiles,
    build_listener,
    check_config,
    write_sds,
)
from zerogate.gateway.tls import LocalCA, ServingCertificate

NOW = datetime.now(UTC)  # real Envoy and real clients check validity against the real clock


def _tls_gateway(upstream_url: str, check_url: str, tls: TlsFiles | None) -> Gateway:
    route = Route("app", hosts=("localhost", "app.localhost"), upstream=upstream_url)
    return make_gateway(check_url, route, tls=tls)


def _trusting(ca: LocalCA) -> ssl.SSLContext:
    """A client context that trusts our local CA and nothing else."""
    return ssl.create_default_context(cafile=str(ca.cert_path))


def _transport(listener: dict[str, Any]) -> dict[str, Any]:
    socket: dict[str, Any] = listener["filter_chains"][0]["transport_socket"]
    return socket


# -- the configuration Envoy is given --------------------------------------------------------


def test_envoy_tls_listener_requires_tls12_and_offers_h2(tmp_path: Path) -> None:
    tls = TlsFiles(tmp_path / "sds")
    listener = build_listener(make_gateway("http://127.0.0.1:9", tls=tls))
    socket = _transport(listener)
    assert socket["name"] == "envoy.transport_sockets.tls"
    context = socket["typed_config"]["common_tls_context"]
    # A missing or lower minimum would let Envoy accept TLS 1.0/1.1 handshakes.
    assert context["tls_params"]["tls_minimum_protocol_version"] == "TLSv1_2"
    assert context["alpn_protocols"] == ["h2", "http/1.1"]
    ciphers = context["tls_params"]["cipher_suites"]
    assert all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers)
    (secret,) = context["tls_certificate_sds_secret_configs"]
    assert secret["name"] == SECRET_NAME
    source = secret["sds_config"]["path_config_source"]
    assert source == {
        "path": str(tmp_path / "sds" / "serving.json"),
        "watched_directory": {"path": str(tmp_path / "sds")},  # reload on a move into it
    }
    assert "tls_certificates" not in context  # never a certificate inlined in the listener


def test_envoy_tls_off_means_no_transport_socket() -> None:
    listener = build_listener(make_gateway("http://127.0.0.1:9"))
    assert "transport_socket" not in listener["filter_chains"][0]


def test_envoy_tls_option_must_be_tls_files() -> None:
    with pytest.raises(ConfigError) as caught:
        make_gateway("http://127.0.0.1:9", tls="/etc/ssl")
    assert [(d.code, d.loc) for d in caught.value.details] == [("gateway_invalid", "tls")]


def test_envoy_tls_sds_file_is_swapped_in_by_rename(tmp_path: Path) -> None:
    tls = TlsFiles(tmp_path / "sds")
    write_sds(tls, certificate_chain=tmp_path / "a.pem", private_key=tmp_path / "a.key")
    first = tls.sds_file.stat().st_ino
    write_sds(tls, certificate_chain=tmp_path / "b.pem", private_key=tmp_path / "b.key")
    assert tls.sds_file.stat().st_ino != first  # a new file moved in, not an edit in place
    assert [p.name for p in tls.sds_dir.iterdir()] == ["serving.json"]  # no temp file left
    assert str(tmp_path / "b.key") in tls.sds_file.read_text()


def test_envoy_tls_validation_refuses_a_missing_sds_file(tmp_path: Path) -> None:
    gateway = make_gateway("http://127.0.0.1:9", tls=TlsFiles(tmp_path / "nothing"))
    with pytest.raises(ConfigError) as caught:
        run(check_config(gateway))
    assert caught.value.code == "envoy_config_rejected"


# -- a real Envoy ----------------------------------------------------------------------------


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.load_or_create(tmp_path / "tls", now=NOW)


@asynccontextmanager
async def serving(
    ca: LocalCA, tmp_path: Path, upstream_url: str, check_url: str
) -> AsyncIterator[tuple[EnvoyProcess, TlsFiles, ServingCertificate]]:
    tls = TlsFiles(tmp_path / "envoy" / "sds")
    leaf = ca.serving_certificate(now=NOW)
    write_sds(tls, certificate_chain=leaf.certificate_chain, private_key=leaf.private_key)
    envoy = EnvoyProcess(_tls_gateway(upstream_url, check_url, tls), workdir=tmp_path / "envoy")
    await envoy.start()
    try:
        yield envoy, tls, leaf
    finally:
        await envoy.aclose()


async def _served(port: int, context: ssl.SSLContext, host: str = "localhost") -> tuple[int, str]:
    """The serial of the certificate a new connection is shown, and the ALPN chosen."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=host)
    try:
        tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number, tls.selected_alpn_protocol() or ""
    finally:
        writer.close()


@pytest.mark.e2e
def test_envoy_tls_serves_the_leaf_to_a_client_trusting_only_our_ca(
    ca: LocalCA, tmp_path: Path, upstream: Upstream, upstream_url: str, check_url: str
) -> None:
    async def scenario() -> None:
        async with serving(ca, tmp_path, upstream_url, check_url) as (envoy, _, leaf):
            port = envoy.gateway.listen_port
            async with httpx.AsyncClient(verify=_trusting(ca), trust_env=False) as client:
                # *.localhost need not resolve here: connect to loopback, name the host in SNI.
                for host in ("localhost", "app.localhost"):
                    reply = await client.get(
                        f"https://127.0.0.1:{port}/hello",
                        headers={"host": host},
                        extensions={"sni_hostname": host},
                        timeout=10,
                    )
                    assert reply.status_code == 200, reply.text
            # Envoy tells the check and the upstream the request came over TLS.
            assert upstream.seen[-1].one("x-forwarded-proto") == "https"
            h2 = _trusting(ca)
            h2.set_alpn_protocols(["h2", "http/1.1"])
            assert await _served(port, h2) == (leaf.serial, "h2")
            # A client that does not trust our CA refuses the gateway.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                async with httpx.AsyncClient(trust_env=False) as stranger:
                    await stranger.get(f"https://localhost:{port}/", timeout=10)
            # Plain HTTP to the TLS port gets no HTTP answer at all.
            with pytest.raises(httpx.TransportError):
                async with httpx.AsyncClient(trust_env=False) as plain:
                    await plain.get(f"http://127.0.0.1:{port}/hello", timeout=10)
            assert [s.path for s in upstream.seen] == ["/hello", "/hello"]

    run(scenario())


@pytest.mark.e2e
def test_envoy_tls_rotates_the_leaf_through_sds_without_a_restart(
    ca: LocalCA, tmp_path: Path, upstream: Upstream, upstream_url: str, check_url: str
) -> None:
    async def scenario() -> None:
        async with serving(ca, tmp_path, upstream_url, check_url) as (envoy, tls, old):
            port, pid = envoy.gateway.listen_port, envoy.pid
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=_trusting(ca), server_hostname="localhost"
            )

            async def ask(path: str) -> bytes:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                return head.split(b"\r\n")[0]

            try:
                assert await ask("/before") == b"HTTP/1.1 200 OK"
                new = ca.issue(now=datetime.now(UTC))
                write_sds(tls, certificate_chain=new.certificate_chain, private_key=new.private_key)

                async def rotated() -> bool:
                    return (await _served(port, _trusting(ca)))[0] == new.serial

                await until(rotated, poll_s=0.05)
                assert envoy.pid == pid  # the same process: no restart
                assert envoy.restarts == 0
                # The connection opened before the swap keeps working, on its old certificate.
                assert await ask("/after") == b"HTTP/1.1 200 OK"
                tls_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
                der = tls_object.getpeercert(binary_form=True)
                assert der is not None
                assert x509.load_der_x509_certificate(der).serial_number == old.serial
            finally:
                writer.close()
            assert [s.path for s in upstream.seen] == ["/before", "/after"]

    run(scenario())


@pytest.mark.e2e
def test_envoy_tls_accepts_a_tls12_client(
    ca: LocalCA, tmp_path: Path, upstream_url: str, check_url: str
) -> None:
    """TLS 1.2 is the floor, not the only version: older clients that can do 1.2 still work."""

    async def scenario() -> None:
        async with serving(ca, tmp_path, upstream_url, check_url) as (envoy, _, leaf):
            tls12 = _trusting(ca)
            tls12.maximum_version = ssl.TLSVersion.TLSv1_2
            tls12.set_alpn_protocols(["http/1.1"])
            assert await _served(envoy.gateway.listen_port, tls12) == (leaf.serial, "http/1.1")

    run(scenario())
