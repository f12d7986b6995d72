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
