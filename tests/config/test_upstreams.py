"""`[upstreams.NAME]` tables: parsed into `UpstreamSettings`, every problem reported at once with
its `file:key` or `env:NAME` location, env overrides for scalars, the client secret hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerogate.config import GroupRuleSettings, Secret, UpstreamSettings, load_settings
from zerogate.errors import ConfigError

OKTA = """
[upstreams.okta]
issuer = "https://example.okta.com"
client_id = "0oa1example"
client_secret = "from-the-file"
display_name = "Okta"
domains = ["example.com", "Example.org"]
scopes = ["openid", "email", "profile", "groups"]
trust_mfa = true

[[upstreams.okta.group_rules]]
value = "Engineering"
group = "engineering"

[[upstreams.okta.group_rules]]
claim = "roles"
value = "Admin"
group = "admins"
"""


def _load(tmp_path: Path, text: str, **environ: str) -> object:
    path = tmp_path / "zerogate.toml"
    path.write_text(text)
    return load_settings(path, environ=environ)


def _problems(tmp_path: Path, text: str, **environ: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, **environ)
    return [(d.code, d.loc) for d in caught.value.details]


def test_upstreams_default_to_none() -> None:
    assert dict(load_settings(None, environ={}).upstreams) == {}


def test_upstreams_parse_tables_and_arrays_of_tables(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.toml", environ={})
    assert not settings.upstreams
    path = tmp_path / "zerogate.toml"
    path.write_text(OKTA)
    okta = load_settings(path, environ={}).upstreams["okta"]
    assert okta == UpstreamSettings(
        issuer="https://example.okta.com",
        client_id="0oa1example",
        client_secret=Secret("from-the-file"),
        display_name="Okta",
        domains=("example.com", "Example.org"),
        scopes=("openid", "email", "profile", "groups"),
        trust_mfa=True,
        group_rules=(
            GroupRuleSettings(value="Engineering", group="engineering"),
            GroupRuleSettings(claim="roles", value="Admin", group="admins"),
        ),
    )
    assert "from-the-file" not in repr(okta)


def test_upstreams_inline_table_rules_are_the_same(tmp_path: Path) -> None:
    inline = OKTA.split("[[")[0] + (
        'group_rules = [{value = "Engineering", group = "engineering"},'
        ' {claim = "roles", value = "Admin", group = "admins"}]\n'
    )
    path = tmp_path / "zerogate.toml"
    path.write_text(inline)
    inline_rules = load_settings(path, environ={}).upstreams["okta"].group_rules
    path.write_text(OKTA)
    assert inline_rules == load_settings(path, environ={}).upstreams["okta"].group_rules


def test_upstreams_env_overrides_scalars_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "zerogate.toml"
    path.write_text(OKTA)
    okta = load_settings(
        path,
        environ={
            "ZEROGATE_UPSTREAMS__OKTA__CLIENT_SECRET": "from-the-env",
            "ZEROGATE_UPSTREAMS__OKTA__TRUST_MFA": "false",
            "ZEROGATE_UPSTREAMS__OKTA__DOMAINS": "a.example, b.example",
        },
    ).upstreams["okta"]
    assert okta.client_secret == "from-the-env"
    assert isinstance(okta.client_secret, Secret)
    assert okta.trust_mfa is False
    assert okta.domains == ("a.example", "b.example")
    assert len(okta.group_rules) == 2  # untouched by the env


def test_upstreams_report_every_problem_with_its_location(tmp_path: Path) -> None:
    text = """
[upstreams.okta]
issuer = "http://okta.example.com/?x"
client_id = "a:b"
scopes = ["email"]
domains = ["example.com", "not a domain"]
timeout_s = "soon"
[[upstreams.okta.group_rules]]
value = ""
group = "-nope"
colour = "blue"
[upstreams.Bad]
issuer = "https://x.example"
[upstreams.partner]
issuer = "https://partner.example"
client_id = "p"
client_secret = "s"
domains = ["EXAMPLE.com"]
"""
    path = tmp_path / "zerogate.toml"
    found = _problems(
        tmp_path,
        text,
        ZEROGATE_UPSTREAMS__PARTNER__CACHE_TTL_S="1",
        ZEROGATE_UPSTREAMS__PARTNER__GROUP_RULES="engineering",
    )
    f = str(path)
    assert found == [
        ("config_invalid", f"{f}:upstreams.Bad"),
        ("config_invalid", f"{f}:upstreams.okta.client_id"),
        ("config_invalid", f"{f}:upstreams.okta.client_secret"),
        ("config_invalid", f"{f}:upstreams.okta.domains"),
        ("config_unknown_key", f"{f}:upstreams.okta.group_rules[0].colour"),
        ("config_invalid", f"{f}:upstreams.okta.group_rules[0].group"),
        ("config_invalid", f"{f}:upstreams.okta.group_rules[0].value"),
        ("config_invalid", f"{f}:upstreams.okta.issuer"),
        ("config_invalid", f"{f}:upstreams.okta.scopes"),
        ("config_type", f"{f}:upstreams.okta.timeout_s"),
        ("config_invalid", f"{f}:upstreams.partner.domains"),
        ("config_invalid", "env:ZEROGATE_UPSTREAMS__PARTNER__CACHE_TTL_S"),
        ("config_type", "env:ZEROGATE_UPSTREAMS__PARTNER__GROUP_RULES"),
    ]


def test_upstreams_defined_only_in_the_env_name_missing_keys_without_a_file(
    tmp_path: Path,
) -> None:
    found = _problems(tmp_path, "", ZEROGATE_UPSTREAMS__GOOGLE__CLIENT_ID="g")
    assert found == [
        ("config_invalid", "upstreams.google.client_secret"),
        ("config_invalid", "upstreams.google.issuer"),
    ]


@pytest.mark.parametrize(
    ("issuer", "ok"),
    [
        ("https://accounts.google.com", True),
        ("https://login.microsoftonline.com/tenant-id/v2.0", True),
        ("http://127.0.0.1:8080", True),  # loopback: tests only
        ("http://idp.example.com", False),
        ("https://user:pw@idp.example.com", False),
        ("https://idp.example.com#x", False),
        ("idp.example.com", False),
    ],
)
def test_upstream_issuer_must_be_an_https_url(issuer: str, ok: bool) -> None:
    settings = UpstreamSettings(issuer=issuer, client_id="c", client_secret=Secret("s"))
    assert (settings.problems() == []) is ok
