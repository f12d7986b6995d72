"""The sign-in pages tell the audit log of every sign-in and second-factor attempt (issue 5 item 1;
standards OBS-02), and an attempt that cannot be recorded gets no session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.idp._support import GOOD_PASSWORD, LoginWorld, make_world
from zerogate.idp import SecurityEvent, SecurityEventKind
from zerogate.store import Store


class Heard:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []
        self.fail = False

    async def __call__(self, event: SecurityEvent) -> None:
        if self.fail:
            raise RuntimeError("the audit log is down")
        self.events.append(event)


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def world(store: Store, heard: Heard) -> Iterator[LoginWorld]:
    yield from make_world(store, security_events=heard, raise_server_exceptions=False)


def test_a_wrong_password_is_a_failed_login_naming_the_account_but_not_what_was_typed(
    world: LoginWorld, heard: Heard
) -> None:
    ada = world.add_user()
    assert world.sign_in(password="not-" + GOOD_PASSWORD).status_code == 401
    [event] = heard.events
    assert (event.kind, event.ok, event.methods) == (SecurityEventKind.LOGIN, False, ("pwd",))
    assert event.user_id == ada.id
    assert event.reason == "bad_password"
    assert event.username is None  # only names the store vouches for
    assert event.ip
    assert GOOD_PASSWORD not in repr(event)


def test_an_unknown_username_is_recorded_without_it(world: LoginWorld, heard: Heard) -> None:
    world.sign_in(username="hunter2-typed-in-the-wrong-field")
    [event] = heard.events
    assert (event.ok, event.reason, event.user_id, event.username) == (
        False,
        "unknown_user",
        None,
        None,
    )
    assert "hunter2" not in repr(event)


def test_a_password_sign_in_is_one_successful_login(world: LoginWorld, heard: Heard) -> None:
    world.add_user()
    assert world.sign_in().status_code == 303
    [event] = heard.events
    assert (event.kind, event.ok, event.username, event.methods) == (
        SecurityEventKind.LOGIN,
        True,
        "ada",
        ("pwd",),
    )


def test_second_factor_attempts_are_mfa_events_then_the_login(
    world: LoginWorld, heard: Heard
) -> None:
    secret = world.enrol_totp(world.add_user())
    world.sign_in()
    assert heard.events == []  # the password alone starts no session
    assert world.submit_code(world.wrong_code(secret)).status_code != 303
    assert world.submit_code(world.code(secret)).status_code == 303
    kinds = [(e.kind, e.ok, e.methods) for e in heard.events]
    assert kinds == [
        (SecurityEventKind.MFA, False, ("otp",)),
        (SecurityEventKind.MFA, True, ("otp",)),
        (SecurityEventKind.LOGIN, True, ("pwd", "otp")),
    ]
    assert heard.events[0].reason  # why the code was refused
    assert all(e.username == "ada" for e in heard.events)


def test_a_sign_in_that_cannot_be_recorded_gets_no_session(world: LoginWorld, heard: Heard) -> None:
    world.add_user()
    heard.fail = True
    response = world.sign_in()
    assert response.status_code == 500
    assert world.session_token() is None
