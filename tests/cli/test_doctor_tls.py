"""`zerogate doctor` on the gateway's local CA: missing (fine), healthy, exposed, expired, off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.test_doctor import _checks, _setup
from zerogate.cli import _doctor
from zerogate.gateway.tls import LocalCA


def _ca(tmp_path: Path, *, now: datetime | None = None) -> LocalCA:
    return LocalCA.load_or_create(tmp_path / "data" / "tls", now=now or datetime.now(UTC))


def test_doctor_tls_without_a_ca_yet_is_ok_and_creates_nothing(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    code, checks = _checks(config)
    assert code == 0
    assert checks["local tls"]["status"] == "ok"
    assert "created in" in checks["local tls"]["detail"]
    assert not (tmp_path / "data" / "tls").exists()


def test_doctor_tls_reports_the_ca_and_the_serving_leaf(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    ca = _ca(tmp_path)
    leaf = ca.serving_certificate(now=datetime.now(UTC))
    code, checks = _checks(config)
    assert code == 0
    detail = checks["local tls"]["detail"]
    assert str(ca.cert_path) in detail
    assert f"serving localhost until {leaf.not_after:%Y-%m-%d}" in detail
    assert checks["routes"]["status"] == "ok"  # Envoy accepts the TLS listener too


def test_doctor_tls_fails_on_a_ca_key_others_can_read(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    ca = _ca(tmp_path)
    ca.key_path.chmod(0o644)
    code, checks = _checks(config)
    assert code == 1
    finding = checks["local tls"]
    assert finding["status"] == "fail"
    assert str(ca.key_path) in finding["detail"]
    assert "mode 0644" in finding["detail"]
    assert finding["remedy"] == "chmod 600 the key file"


def test_doctor_tls_fails_on_a_serving_key_others_can_read(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    leaf = _ca(tmp_path).serving_certificate(now=datetime.now(UTC))
    leaf.private_key.chmod(0o640)
    code, checks = _checks(config)
    assert code == 1
    assert checks["local tls"]["status"] == "fail"
    assert str(leaf.private_key) in checks["local tls"]["detail"]


def test_doctor_tls_fails_on_an_expired_ca(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    ca = _ca(tmp_path, now=datetime.now(UTC) - timedelta(days=3651))
    findings = _doctor.diagnose(config, now=datetime.now(UTC))
    (finding,) = [f for f in findings if f.check == "local tls"]
    assert finding.status is _doctor.Status.FAIL
    assert str(ca.cert_path) in finding.detail
    assert "move" in finding.remedy


def test_doctor_tls_off_is_skipped(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    config.write_text(config.read_text().replace("[gateway]\n", '[gateway]\ntls = "off"\n'))
    code, checks = _checks(config)
    assert code == 0
    assert checks["local tls"]["status"] == "skip"
    assert checks["routes"]["status"] == "ok"


def test_doctor_tls_bad_setting_is_a_configuration_error(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    config.write_text(config.read_text().replace("[gateway]\n", '[gateway]\ntls = "on"\n'))
    code, checks = _checks(config)
    assert code == 1
    assert checks["configuration"]["status"] == "fail"
    assert [e["loc"].split(":")[-1] for e in checks["configuration"]["errors"]] == ["gateway.tls"]
    assert checks["local tls"]["status"] == "skip"
