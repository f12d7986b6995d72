"""Request limits, security headers and error pages: clear codes, never a crash or a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.idp._support import LoginWorld, csrf_of, error_code_of, make_world
from zerogate.idp import LoginConfig
from zerogate.store import Store


async def _broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("secret detail that must not reach the browser")


async def _own_headers(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok", headers={"cache-control": "max-age=60"})


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    extra = [Route("/broken", _broken), Route("/extra", _own_headers)]
    yield from make_world(
        store,
        config=LoginConfig(max_body_bytes=2048, max_cookie_bytes=1024),
        extra_routes=extra,
        raise_server_exceptions=False,
    )


def test_login_oversized_cookie_header_is_refused_with_431(world: LoginWorld) -> None:
    response = world.client.get("/login", headers={"cookie": "junk=" + "x" * 2000})
    assert response.status_code == 431
    assert error_code_of(response) == "request_header_too_large"
    assert response.headers["cache-control"] == "no-store"


def test_login_oversized_declared_body_is_refused_with_413(world: LoginWorld) -> None:
    csrf = csrf_of(world.login_page())
    response = world.client.post(
        "/login", data={"csrf": csrf, "username": "ada", "password": "p" * 5000}
    )
    assert response.status_code == 413
    assert error_code_of(response) == "request_too_large"


def test_login_oversized_streamed_body_is_cut_off_with_413(world: LoginWorld) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"username=" + b"a" * 500 + b"&"

    response = world.client.post(
        "/login",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert error_code_of(response) == "request_too_large"


def test_login_bad_content_length_is_refused(world: LoginWorld) -> None:
    response = world.client.post(
        "/logout", content=b"", headers={"content-length": "-1", "content-type": "text/plain"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("csrf=a&csrf=b", "application/x-www-form-urlencoded"),
        ('{"username": "ada"}', "application/json"),
        ("--x\r\n", "multipart/form-data; boundary=x"),
    ],
)
def test_login_malformed_forms_are_refused(world: LoginWorld, body: str, content_type: str) -> None:
    response = world.client.post("/login", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert error_code_of(response) == "form_invalid"


def test_login_too_many_fields_are_refused(world: LoginWorld) -> None:
    body = "&".join(f"f{i}=1" for i in range(40))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = world.client.post("/login", content=body, headers=headers)
    assert response.status_code == 400
    assert error_code_of(response) == "form_invalid"


@pytest.mark.parametrize("path", ["/login", "/nowhere", "/login/mfa", "/static/zerogate.css"])
def test_login_responses_carry_security_headers(world: LoginWorld, path: str) -> None:
    headers = world.client.get(path).headers
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["strict-transport-security"].startswith("max-age=31536000")


def test_login_pages_are_not_cached_but_the_stylesheet_is(world: LoginWorld) -> None:
    for path in ("/login", "/nowhere"):
        assert world.client.get(path).headers["cache-control"] == "no-store"
    css = world.client.get("/static/zerogate.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "public, max-age=3600"


def test_login_extra_routes_keep_their_own_cache_policy(world: LoginWorld) -> None:
    response = world.client.get("/extra")
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-frame-options"] == "DENY"


def test_login_unknown_path_and_method_get_coded_error_pages(world: LoginWorld) -> None:
    missing = world.client.get("/nowhere")
    assert missing.status_code == 404
    assert error_code_of(missing) == "not_found"
    wrong_method = world.client.put("/login")
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert error_code_of(wrong_method) == "method_not_allowed"


def test_login_unexpected_error_shows_a_code_and_no_traceback(world: LoginWorld) -> None:
    response = world.client.get("/broken")
    assert response.status_code == 500
    assert error_code_of(response) == "internal_error"
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    assert "reference <code>" in response.text
    assert response.headers["content-security-policy"]


def test_login_pages_never_contain_script(world: LoginWorld) -> None:
    for path in ("/login", "/nowhere"):
        assert "<script" not in world.client.get(path).text
