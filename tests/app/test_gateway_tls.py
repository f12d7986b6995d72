"""`zerogate up`'s gateway with local TLS: the origins the IdP may return to, the setting, and
the renewal loop that re-points the SDS file (Envoy's side of the swap: test_envoy_tls.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from zerogate.app import _gateway_service
from zerogate.app._gateway_service import gateway_origins
from zerogate.clock import FixedClock
from zerogate.config import load_settings
from zerogate.errors import ConfigError
from zerogate.gateway.tls import LEAF_LIFETIME

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_gateway_origins_are_https_by_default() -> None:
    settings = load_settings(
        None,
        environ={
            "ZEROGATE_ROUTES__WIKI__FROM": "wiki.localhost/",
            "ZEROGATE_ROUTES__WIKI__TO": "http://127.0.0.1:3000",
        },
    )
    assert settings.gateway.tls == "local"
    assert gateway_origins(settings, 8443) == [
        "https://localhost:8443",
        "https://wiki.localhost:8443",
    ]
    assert gateway_origins(settings, 443) == ["https://localhost", "https://wiki.localhost"]


def test_gateway_origins_follow_tls_off() -> None:
    settings = load_settings(None, environ={"ZEROGATE_GATEWAY__TLS": "off"})
    assert gateway_origins(settings, 8080) == ["http://localhost:8080"]
    assert gateway_origins(settings, 80) == ["http://localhost"]


def test_gateway_tls_setting_accepts_only_local_or_off() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"ZEROGATE_GATEWAY__TLS": "yes"})
    assert [d.loc for d in caught.value.details] == ["env:ZEROGATE_GATEWAY__TLS"]


def test_gateway_tls_renewal_repoints_the_sds_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(None, environ={"ZEROGATE_DATA_DIR": str(tmp_path / "data")})
    clock = FixedClock(at=T0)
    ca, tls = _gateway_service._local_tls(settings, tmp_path / "envoy", clock)

    def named_key() -> str:
        document = orjson.loads(tls.sds_file.read_bytes())
        return str(document["resources"][0]["tls_certificate"]["private_key"]["filename"])

    first = named_key()
    assert Path(first).exists()
    monkeypatch.setattr(_gateway_service, "TLS_RENEW_CHECK_S", 0.0)

    async def scenario() -> str:
        task = asyncio.create_task(_gateway_service._renew_serving(ca, tls, clock))
        try:
            await asyncio.sleep(0.05)
            assert named_key() == first  # fresh: nothing to renew
            clock.advance((LEAF_LIFETIME * 2 / 3).total_seconds() + 60)
            async with asyncio.timeout(30):
                while named_key() == first:  # noqa: ASYNC110 - polling a file, no event
                    await asyncio.sleep(0.01)
            return named_key()
        finally:
            task.cancel()

    renewed = asyncio.run(scenario())
    latest = ca.latest_leaf()
    assert latest is not None
    assert renewed == str(latest.private_key)
    assert latest.not_after > T0 + LEAF_LIFETIME
