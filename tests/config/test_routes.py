"""`[routes.NAME]` and `[gateway]`: every problem at once, at its file location."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerogate.config import FailMode, load_settings, split_from
from zerogate.errors import ConfigError

GOOD = """
[routes.wiki]
from = "https://wiki.example.com/"
to = "http://127.0.0.1:3000"

[routes.hooks]
from = "api.example.com/webhooks"
to = "http://127.0.0.1:3001"
allow_public = true
"""


def test_routes_load_with_from_as_the_key(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(GOOD)
    routes = load_settings(path, environ={}).routes
    assert sorted(routes) == ["hooks", "wiki"]
    assert routes["wiki"].from_ == "https://wiki.example.com/"
    assert routes["wiki"].fail_mode == FailMode.CLOSED
    assert routes["hooks"].allow_public is True


def test_env_overrides_a_route_key(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(GOOD)
    env = {"ZEROGATE_ROUTES__WIKI__TO": "http://127.0.0.1:4000"}
    assert load_settings(path, environ=env).routes["wiki"].to == "http://127.0.0.1:4000"


def test_bad_routes_report_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(
        '[routes.bad]\nfrom = "ftp://x"\nto = "http://127.0.0.1:3000/app"\nfail_mode = "open"\n'
        "allow_public = true\nmfa_max_age_s = 60\n[gateway]\nconcurrency = 0\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    locs = {d.loc.split(":", 1)[1] for d in raised.value.details}
    assert locs == {
        "routes.bad.from",
        "routes.bad.to",
        "routes.bad.fail_mode",
        "routes.bad.mfa_max_age_s",
        "gateway.concurrency",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://App.Example.com/", ("app.example.com", "/")),
        ("wiki.localhost:8080/docs", ("wiki.localhost:8080", "/docs")),
        ("*.example.com", ("*.example.com", "/")),
        ("https://user@evil/", ("", "")),
        ("javascript://x", ("", "")),
        ("", ("", "")),
    ],
)
def test_split_from(value: str, expected: tuple[str, str]) -> None:
    assert split_from(value) == expected


WEBHOOK = """
[routes.payments]
from = "hooks.example.com/payments"
to = "http://127.0.0.1:3002"
webhook_tolerance_s = 120
"""
KEY_A = "whsec-a-0123456789abcdefghijklmnopqrstu"
KEY_B = "whsec-b-0123456789abcdefghijklmnopqrstu"


def test_webhook_secret_comes_from_the_environment_and_never_shows(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(WEBHOOK)
    env = {"ZEROGATE_ROUTES__PAYMENTS__WEBHOOK_SECRET": f" {KEY_A} , {KEY_B} "}
    route = load_settings(path, environ=env).routes["payments"]
    assert route.webhook_secrets == (KEY_A, KEY_B)  # the current one first, for rotation
    assert route.webhook_tolerance_s == 120
    assert route.webhook_signature_header == "zerogate-signature"
    assert route.webhook_timestamp_header == "zerogate-timestamp"
    assert KEY_A not in repr(route)
    assert "whsec" not in repr(route)


def test_a_route_without_a_webhook_secret_is_not_a_webhook_route(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(GOOD)
    assert load_settings(path, environ={}).routes["wiki"].webhook_secrets == ()


def test_bad_webhook_routes_report_every_problem_without_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(
        "[routes.hooks]\n"
        'from = "hooks.example.com/"\nto = "http://127.0.0.1:3000"\n'
        f'webhook_secret = "{KEY_A},too-short-to-be-a-key"\n'
        "allow_public = true\nmfa_max_age_s = 60\nwebhook_tolerance_s = 7200\n"
        'webhook_signature_header = "x-zerogate-signature"\n'
        'webhook_timestamp_header = "X Timestamp"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    locs = {d.loc.split(":", 1)[1] for d in raised.value.details}
    assert locs == {
        "routes.hooks.webhook_secret",
        "routes.hooks.allow_public",
        "routes.hooks.mfa_max_age_s",
        "routes.hooks.webhook_tolerance_s",
        "routes.hooks.webhook_signature_header",
        "routes.hooks.webhook_timestamp_header",
    }
    assert "too-short" not in str(raised.value)
    assert KEY_A not in str(raised.value)


@pytest.mark.parametrize("tolerance", ["0", "3601", "-1"])
def test_webhook_tolerance_must_be_1_to_3600_seconds(tmp_path: Path, tolerance: str) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(WEBHOOK)
    env = {
        "ZEROGATE_ROUTES__PAYMENTS__WEBHOOK_SECRET": KEY_A,
        "ZEROGATE_ROUTES__PAYMENTS__WEBHOOK_TOLERANCE_S": tolerance,
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ=env)
    # Set from the environment: the location is the variable.
    assert [d.loc for d in raised.value.details] == [
        "env:ZEROGATE_ROUTES__PAYMENTS__WEBHOOK_TOLERANCE_S"
    ]


def test_webhook_headers_must_differ(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(WEBHOOK + 'webhook_timestamp_header = "zerogate-signature"\n')
    env = {"ZEROGATE_ROUTES__PAYMENTS__WEBHOOK_SECRET": KEY_A}
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ=env)
    assert [d.loc.rsplit(":", 1)[-1] for d in raised.value.details] == [
        "routes.payments.webhook_timestamp_header"
    ]
