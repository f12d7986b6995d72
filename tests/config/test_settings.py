"""Settings: defaults, file, env precedence; every error at once with its location; secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerogate.config import Secret, load_settings
from zerogate.errors import ConfigError


def test_settings_defaults_use_sqlite_in_data_dir() -> None:
    settings = load_settings(None, environ={})
    assert settings.store_url == "sqlite:///.zerogate/zerogate.db"
    assert settings.policy.decision_ttl_s == 15.0


def test_settings_env_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(
        '[policy]\ndecision_ttl_s = 3\ntimezone = "Europe/Berlin"\n[server]\nport = 9000\n'
    )
    settings = load_settings(path, environ={"ZEROGATE_SERVER__PORT": "9100", "HOME": "/x"})
    assert settings.policy.decision_ttl_s == 3.0
    assert settings.policy.timezone == "Europe/Berlin"
    assert settings.server.port == 9100


def test_settings_report_every_error_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text('[server]\nport = "http"\nbogus = 1\n[policy]\ncache_size = true\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"ZEROGATE_POLICY__DECISION_TTL_S": "soon"})
    found = [(d.code, d.loc) for d in info.value.details]
    # Sorted by location: all four problems at once, file ones with their dotted key.
    assert found == sorted(
        [
            ("config_type", "env:ZEROGATE_POLICY__DECISION_TTL_S"),
            ("config_type", f"{path}:policy.cache_size"),
            ("config_type", f"{path}:server.port"),
            ("config_unknown_key", f"{path}:server.bogus"),
        ],
        key=lambda item: (item[1], item[0]),
    )


def test_settings_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text("[server\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.details[0].code == "config_syntax"


def test_settings_hide_secrets_in_repr() -> None:
    settings = load_settings(None, environ={"ZEROGATE_STORE__URL": "postgresql://u:hunter2@h/db"})
    assert "hunter2" not in repr(settings)
    assert isinstance(settings.store.url, Secret)
    assert settings.store_url.endswith("@h/db")


def test_oidc_lifetimes_are_checked_and_located(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text("[oidc]\naccess_token_lifetime_s = 3600\nrefresh_jitter = 1.5\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={"ZEROGATE_OIDC__CODE_LIFETIME_S": "0"})
    assert {d.loc for d in raised.value.details} == {
        "env:ZEROGATE_OIDC__CODE_LIFETIME_S",
        f"{path}:oidc.access_token_lifetime_s",
        f"{path}:oidc.refresh_jitter",
    }


def test_oidc_defaults_are_short_lived() -> None:
    oidc = load_settings(None, environ={}).oidc
    assert oidc.access_token_lifetime_s == 300
    assert oidc.refresh_token_lifetime_s <= oidc.grant_lifetime_s


def test_store_secret_key_is_hidden() -> None:
    settings = load_settings(None, environ={"ZEROGATE_STORE__SECRET_KEY": "k1:" + "A" * 43})
    assert "AAAA" not in repr(settings)
