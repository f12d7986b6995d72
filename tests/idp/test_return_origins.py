"""`ReturnOrigins`: the exact origins sign-in may send a browser back to, replaceable while the
IdP runs (standards OA-A2: never an open redirect, whatever the list is changed to)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerogate.idp import ReturnOrigins

WIKI = "https://wiki.localhost:8443"


def test_return_origins_allow_exact_origins_only() -> None:
    origins = ReturnOrigins([WIKI, "http://localhost:8080/ignored/path", "ftp://x.test", "nope"])
    assert list(origins) == ["http://localhost:8080", WIKI]  # URLs reduced, non-http(s) left out
    assert origins.allows(f"{WIKI}/docs?page=2") == WIKI
    assert origins.allows("HTTPS://Wiki.LocalHost:8443/") == WIKI  # scheme and host: any case
    assert origins.allows("http://localhost:8080") == "http://localhost:8080"
    assert origins.allows("http://localhost:80/") is None  # another port
    assert origins.allows("http://localhost/") is None


@pytest.mark.parametrize(
    "to",
    [
        "http://wiki.localhost:8443/",  # scheme downgrade: another origin
        "https://wiki.localhost/",  # port left out: another origin
        "https://x.wiki.localhost:8443/",  # a subdomain: another origin
        "https://wiki.localhost:8443.evil.test/",
        "https://wiki.localhost:8443@evil.test/",
        "https://evil.test\\@wiki.localhost:8443/",
        "//wiki.localhost:8443/",
        "javascript:alert(1)",
        "",
    ],
)
def test_return_origins_refuse_everything_else(to: str) -> None:
    assert ReturnOrigins([WIKI]).allows(to) is None


def test_return_origins_replace_adds_and_removes() -> None:
    origins = ReturnOrigins([WIKI])
    app = "https://app.localhost:8443"
    assert origins.allows(f"{app}/") is None
    origins.replace([WIKI, app])
    assert origins.allows(f"{app}/") == app
    origins.replace([app])
    assert origins.allows(f"{WIKI}/") is None  # a removed route host is no longer allowed
    origins.replace(app)  # one origin as a string is that origin, not its letters
    assert list(origins) == [app]
    origins.replace([])
    assert list(origins) == []


@given(st.text(max_size=80))
def test_return_origins_allow_only_what_is_listed(to: str) -> None:
    # Whatever the URL, an allowed one's origin is on the list, and an empty list allows none.
    origins = ReturnOrigins([WIKI, "http://localhost:8080"])
    assert origins.allows(to) in (None, WIKI, "http://localhost:8080")
    assert ReturnOrigins().allows(to) is None
