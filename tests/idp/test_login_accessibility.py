"""Every page a person fills in: labelled fields, autocomplete hints, one autofocus, a language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import LoginWorld, audit, make_world
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def _check(html: str, expected_autocomplete: dict[str, str]) -> None:
    page = audit(html)
    assert page.lang == "en"
    assert page.fields, "no fields"
    for field in page.fields:
        field_id = field.attrs.get("id")
        assert field_id, f"field without an id: {field.attrs}"
        assert field_id in page.labels, f"field without a label: {field.attrs}"
    autocomplete = {f.attrs["id"]: f.attrs.get("autocomplete") for f in page.fields}
    assert autocomplete == expected_autocomplete
    focused = [f for f in page.fields if "autofocus" in f.attrs]
    assert [f.attrs["id"] for f in focused] == [page.fields[0].attrs["id"]]
    for field in page.fields:
        for ref in (field.attrs.get("aria-describedby") or "").split():
            assert ref in page.ids, f"aria-describedby points at nothing: {ref}"


def test_login_form_is_accessible(world: LoginWorld) -> None:
    _check(world.login_page().text, {"username": "username", "password": "current-password"})
    failed = world.sign_in("nobody", "wrong password here")
    _check(failed.text, {"username": "username", "password": "current-password"})


def test_login_mfa_forms_are_accessible(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    _check(world.client.get("/login/mfa").text, {"code": "one-time-code"})
    _check(world.client.get("/login/mfa?method=recovery").text, {"code": "off"})
    refused = world.submit_code(world.wrong_code(secret))
    _check(refused.text, {"code": "one-time-code"})
    assert 'aria-describedby="form-error code-hint"' in refused.text


def test_login_enrol_form_is_accessible(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    _check(world.client.get("/mfa/totp/enrol").text, {"code": "one-time-code"})


def test_login_pages_have_a_viewport_and_our_own_stylesheet(world: LoginWorld) -> None:
    html = world.login_page().text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<link rel="stylesheet" href="/static/zerogate.css">' in html
    assert "http://" not in html
    assert "https://" not in html
