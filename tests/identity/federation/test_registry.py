"""`Upstreams` as a registry: validated at construction, the login page's buttons, home realm."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.identity._support import T0, make_directory, run
from zerogate.config import GroupRuleSettings, Secret, UpstreamSettings
from zerogate.errors import ConfigError
from zerogate.identity.federation import FederationFailed, UpstreamChoice, Upstreams
from zerogate.store import Store, open_store


def _settings(issuer: str = "https://idp.corp.test", **changes: object) -> UpstreamSettings:
    base: dict[str, object] = {
        "issuer": issuer,
        "client_id": "zerogate",
        "client_secret": Secret("s3cret"),
    }
    return UpstreamSettings(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture
def db(make_database: Callable[..., str]) -> Iterator[Store]:
    store = open_store(make_database("sqlite"))
    try:
        yield store
    finally:
        store.close()


def _registry(db: Store, **settings: UpstreamSettings) -> Upstreams:
    return Upstreams(settings, store=db, directory=make_directory(db))


def test_choices_are_one_button_per_upstream(db: Store) -> None:
    upstreams = _registry(
        db,
        okta=_settings(display_name="Okta"),
        google=_settings("https://accounts.google.com"),
    )
    assert upstreams.choices() == [
        UpstreamChoice("google", "google"),
        UpstreamChoice("okta", "Okta"),
    ]
    assert "okta" in upstreams
    assert "nope" not in upstreams
    run(upstreams.aclose())


def test_home_realm_routes_exact_email_domains(db: Store) -> None:
    upstreams = _registry(
        db,
        okta=_settings(domains=("example.com", "Example.org")),
        partner=_settings("https://idp.partner.test", domains=("partner.test",)),
    )
    assert upstreams.home_realm("ada@example.com") == "okta"
    assert upstreams.home_realm(" Ada@EXAMPLE.ORG ") == "okta"
    assert upstreams.home_realm("bob@partner.test") == "partner"
    assert upstreams.home_realm("bob@eu.example.com") is None  # no subdomain matching
    assert upstreams.home_realm("someone@gmail.com") is None
    assert upstreams.home_realm("not-an-address") is None
    assert upstreams.home_realm("") is None
    run(upstreams.aclose())


def test_construction_reports_every_problem(db: Store) -> None:
    """Settings built in code (not by the loader) are checked too, all at once (STYLE §10)."""
    with pytest.raises(ConfigError) as caught:
        _registry(
            db,
            bad=_settings("http://idp.example.com", client_secret=Secret("")),
            rules=_settings(group_rules=(GroupRuleSettings(value="x", group="a b"),)),
        )
    assert [(d.code, d.loc) for d in caught.value.details] == [
        ("config_invalid", "upstreams.bad.client_secret"),
        ("config_invalid", "upstreams.bad.issuer"),
        ("config_invalid", "upstreams.rules.group_rules[0].group"),
    ]


def test_unknown_upstream_is_refused(db: Store) -> None:
    upstreams = _registry(db, okta=_settings())

    async def scenario() -> str:
        try:
            await upstreams.begin("nope", redirect_uri="https://x/cb", now=T0)
        except FederationFailed as exc:
            return f"{exc.code} {exc.status}"
        finally:
            await upstreams.aclose()
        return "no error"

    assert run(scenario()) == "federation_upstream_unknown 404"


def test_link_needs_a_known_upstream_and_user(db: Store) -> None:
    directory = make_directory(db)
    upstreams = Upstreams({"okta": _settings()}, store=db, directory=directory)
    run(directory.add_user("ada", "ada@example.com", now=T0))
    assert run(upstreams.link("okta", "00u1", "ada", now=T0)) is True
    assert [link.subject for link in run(upstreams.links_of("ada@example.com"))] == ["00u1"]
    with pytest.raises(FederationFailed):
        run(upstreams.link("nope", "00u1", "ada", now=T0))
    assert run(upstreams.unlink("okta", "00u1")) is True
    assert run(upstreams.unlink("okta", "00u1")) is False
