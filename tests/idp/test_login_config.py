"""`create_app` and `LoginConfig` refuse unusable settings at start-up, all problems at once."""

from __future__ import annotations

import pytest

from tests.idp._support import SECRET, make_directory
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError
from zerogate.identity import TOTP, RecoveryCodes, Sessions
from zerogate.idp import LoginConfig, create_app
from zerogate.idp._config import public_origin
from zerogate.store import Store


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Login.Example.com/", "https://login.example.com"),
        ("https://login.example.com:8443", "https://login.example.com:8443"),
        ("http://localhost:8181", "http://localhost:8181"),
        ("http://127.0.0.1:8181/", "http://127.0.0.1:8181"),
        ("http://[::1]:8181", "http://[::1]:8181"),
    ],
)
def test_public_origin_accepts_origins(url: str, origin: str) -> None:
    assert public_origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://login.example.com",  # plain http off loopback: Secure cookies would not stick
        "https://login.example.com/auth",  # __Host- cookies need the whole origin
        "https://login.example.com/?x=1",
        "https://user:pw@login.example.com",
        "ftp://login.example.com",
        "login.example.com",
        "",
    ],
)
def test_public_origin_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        public_origin(url)
    assert caught.value.details[0].loc == "public_url"


def test_login_config_reports_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        LoginConfig(pending_ttl_s=0, max_body_bytes=-1, issuer="a:b")
    assert [d.loc for d in caught.value.details] == ["issuer", "max_body_bytes", "pending_ttl_s"]


@pytest.mark.parametrize("secret", [b"", b"short", "a string, not bytes" * 4])
def test_create_app_needs_a_long_secret(store: Store, secret: bytes) -> None:
    with pytest.raises(ConfigError):
        create_app(
            directory=make_directory(store),
            sessions=Sessions(store),
            totp=TOTP(store),
            recovery_codes=RecoveryCodes(store),
            clock=FixedClock(),
            public_url="https://login.example.com",
            secret=secret,
        )
    assert len(SECRET) >= 32
