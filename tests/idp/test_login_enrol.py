"""`/mfa/totp/enrol`: QR code and secret, confirmation, recovery codes, fresh sign-in first."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest

from tests.idp._support import LoginWorld, credential_of, csrf_of, make_world, run, secret_of
from zerogate.identity import RECOVERY_CODE_COUNT, SESSION_COOKIE_NAME
from zerogate.store import Store


@pytest.fixture
def world(store: Store) -> Iterator[LoginWorld]:
    yield from make_world(store)


def test_enrol_needs_a_session(world: LoginWorld) -> None:
    response = world.client.get("/mfa/totp/enrol")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmfa%2Ftotp%2Fenrol"


def test_enrol_shows_a_server_rendered_qr_code_and_the_secret(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    page = world.client.get("/mfa/totp/enrol")
    assert page.status_code == 200
    assert '<svg width="' in page.text
    assert 'role="img"' in page.text
    assert len(secret_of(page)) == 32
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text


def test_enrol_confirm_turns_on_mfa_and_shows_recovery_codes_once(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    page = world.client.get("/mfa/totp/enrol")
    secret = secret_of(page)
    code = pyotp.TOTP(secret).at(world.clock.now())
    form = {"csrf": csrf_of(page), "credential": credential_of(page), "code": code}
    done = world.client.post("/mfa/totp/enrol", data=form)
    assert done.status_code == 200
    assert "Authenticator added" in done.text
    assert done.text.count("<li><code>") == RECOVERY_CODE_COUNT
    assert done.headers["cache-control"] == "no-store"
    assert run(world.recovery.remaining("ada")) == RECOVERY_CODE_COUNT
    home = world.client.get("/")
    assert "On: 1 authenticator app, 10 recovery codes left." in home.text
    # From now on the password alone is not enough.
    world.client.cookies.delete(SESSION_COOKIE_NAME)
    assert world.sign_in().headers["location"] == "/login/mfa"


def test_enrol_wrong_code_asks_again_without_showing_the_secret(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    page = world.client.get("/mfa/totp/enrol")
    secret = secret_of(page)
    form = {
        "csrf": csrf_of(page),
        "credential": credential_of(page),
        "code": world.wrong_code(secret),
    }
    refused = world.client.post("/mfa/totp/enrol", data=form)
    assert refused.status_code == 401
    assert secret not in refused.text.replace(" ", "")
    assert 'href="/mfa/totp/enrol"' in refused.text
    retry = {**form, "csrf": csrf_of(refused), "code": world.code(secret)}
    assert world.client.post("/mfa/totp/enrol", data=retry).status_code == 200


def test_enrol_needs_a_recent_sign_in(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    world.clock.advance(601)
    response = world.client.get("/mfa/totp/enrol")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmfa%2Ftotp%2Fenrol&prompt=login"


def test_enrol_another_needs_a_recent_second_factor(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    world.submit_code(world.code(secret))
    assert world.client.get("/mfa/totp/enrol").status_code == 200
    world.clock.advance(601)
    response = world.client.get("/mfa/totp/enrol")
    assert response.headers["location"] == "/login/mfa?next=%2Fmfa%2Ftotp%2Fenrol"


def test_enrol_a_second_authenticator_keeps_the_recovery_codes(world: LoginWorld) -> None:
    secret = world.enrol_totp(world.add_user())
    kept = run(world.recovery.generate("ada", now=world.clock.now()))
    world.sign_in()
    world.submit_code(world.code(secret))
    page = world.client.get("/mfa/totp/enrol")
    code = pyotp.TOTP(secret_of(page)).at(world.clock.now())
    form = {"csrf": csrf_of(page), "credential": credential_of(page), "code": code}
    done = world.client.post("/mfa/totp/enrol", data=form)
    assert "Your existing recovery codes still work." in done.text
    assert kept[0] not in done.text


def test_enrol_post_without_csrf_is_refused(world: LoginWorld) -> None:
    world.add_user()
    world.sign_in()
    page = world.client.get("/mfa/totp/enrol")
    form = {"credential": credential_of(page), "code": "123456"}
    assert world.client.post("/mfa/totp/enrol", data=form).status_code == 403
