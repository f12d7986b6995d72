"""Passkeys in the login pages, driven over HTTP with a software authenticator (real WebAuthn JSON).

Registration from the account page, username-less sign-in, passkey as the second factor and for
step-up, the administrators' user-verification rule, and the refusals: wrong origin, missing
CSRF token, replayed assertion, a ticket from another browser, oversized responses. References:
WebAuthn checklist WA-* and OA-A3 in /work/shared/reference/standards.md, ASVS 5.0.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.identity._authenticator import SoftAuthenticator
from tests.identity._support import CHEAP, make_directory
from tests.idp._support import (
    IP,
    PUBLIC_URL,
    SECRET,
    T0,
    LoginWorld,
    audit,
    error_code_of,
    run,
)
from zerogate.app._idp_service import _passkeys as up_passkeys
from zerogate.clock import FixedClock
from zerogate.errors import ConfigError
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    TOTP,
    PasskeyInvalid,
    PasskeyLimits,
    Passkeys,
    PasswordHasher,
    RecoveryCodes,
    Sessions,
    User,
)
from zerogate.idp import PENDING_COOKIE_NAME, LoginConfig, create_app
from zerogate.store import Store

RP_ID = "login.zerogate.test"
SCRIPT_POLICY = f"script-src {PUBLIC_URL}/static/passkey.js"
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_ATTR = re.compile(r'([a-z-]+)(?:="([^"]*)")?')
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@dataclass
class PasskeyWorld(LoginWorld):
    """A login world whose app offers passkeys, with helpers for the passkey forms."""

    passkeys: Passkeys

    def form(self, page: httpx.Response, action: str) -> tuple[dict[str, str], dict[str, str]]:
        """(attributes, hidden fields) of the form posting to `action` on `page`."""
        for attrs, body in _FORM.findall(page.text):
            found = {k: html.unescape(v) for k, v in _ATTR.findall(attrs)}
            if found.get("action") == action:
                hidden = {k: html.unescape(v) for k, v in _HIDDEN.findall(body)}
                return found, hidden
        raise AssertionError(f"no form for {action} in:\n{page.text}")

    def begin(self, page_path: str, action: str, begin_path: str) -> tuple[dict[str, str], Any]:
        """Fetch a ceremony as passkey.js does: the form's fields and the server's JSON."""
        _, fields = self.form(self.client.get(page_path), action)
        begun = self.client.post(begin_path, data={"csrf": fields["csrf"]})
        assert begun.status_code == 200, begun.text
        assert begun.headers["cache-control"] == "no-store"
        return fields, begun.json()

    def register(
        self, device: SoftAuthenticator, *, name: str = "Laptop", uv: bool = True
    ) -> httpx.Response:
        fields, begun = self.begin("/", "/mfa/passkey/register", "/mfa/passkey/register/options")
        credential = device.create(json.dumps(begun["options"]), origin=PUBLIC_URL, uv=uv)
        return self.client.post(
            "/mfa/passkey/register",
            data={**fields, "ticket": begun["ticket"], "credential": credential, "name": name},
        )

    def passkey_sign_in(
        self, device: SoftAuthenticator, *, origin: str = PUBLIC_URL, uv: bool = True
    ) -> tuple[httpx.Response, dict[str, str]]:
        """Username-less sign-in from /login; returns the response and what was posted."""
        fields, begun = self.begin("/login?next=/after", "/login/passkey", "/login/passkey/options")
        assert begun["options"]["userVerification"] == "required"
        assert begun["options"]["allowCredentials"] == []
        credential = device.get(json.dumps(begun["options"]), origin=origin, uv=uv)
        posted = {**fields, "ticket": begun["ticket"], "credential": credential}
        return self.client.post("/login/passkey", data=posted), posted

    def mfa_passkey(
        self, device: SoftAuthenticator, *, page: str = "/login/mfa", uv: bool = True
    ) -> tuple[httpx.Response, dict[str, str]]:
        """The passkey form of the second-factor page: (response, the options it carried)."""
        attrs, fields = self.form(self.client.get(page), "/login/mfa")
        assert attrs["data-passkey"] == "get"
        options = json.loads(attrs["data-options"])
        credential = device.get(attrs["data-options"], origin=PUBLIC_URL, uv=uv)
        response = self.client.post("/login/mfa", data={**fields, "credential": credential})
        return response, options

    def amr(self) -> tuple[str, ...]:
        token = self.session_token()
        assert token is not None
        return run(self.sessions.resolve(token, now=self.clock.now())).amr

    def sign_out_here(self) -> None:
        self.client.cookies.delete(SESSION_COOKIE_NAME)


def _world(
    store: Store, config: LoginConfig | None = None, limits: PasskeyLimits | None = None
) -> Iterator[PasskeyWorld]:
    clock = FixedClock(at=T0)
    directory = make_directory(store)
    sessions, totp = Sessions(store), TOTP(store)
    recovery = RecoveryCodes(store, hasher=PasswordHasher(CHEAP))
    passkeys = Passkeys(
        store, rp_id=RP_ID, rp_name="Zerogate", expected_origins=[PUBLIC_URL], limits=limits
    )
    app = create_app(
        directory=directory,
        sessions=sessions,
        totp=totp,
        recovery_codes=recovery,
        clock=clock,
        public_url=PUBLIC_URL,
        secret=SECRET,
        config=config,
        passkeys=passkeys,
    )
    client = TestClient(app, base_url=PUBLIC_URL, client=(IP, 50000), follow_redirects=False)
    try:
        yield PasskeyWorld(store, clock, directory, sessions, totp, recovery, client, passkeys)
    finally:
        client.close()


@pytest.fixture
def world(store: Store) -> Iterator[PasskeyWorld]:
    yield from _world(store)


def _admin(world: PasskeyWorld, username: str = "root") -> User:
    user = world.add_user(username)
    run(world.directory.add_group("admins", now=world.clock.now()))
    run(world.directory.add_member("admins", username, now=world.clock.now()))
    return user


def _with_passkey(world: PasskeyWorld, username: str = "ada") -> SoftAuthenticator:
    """A user who signed in with a password and registered a passkey; then signed out here."""
    if username not in {u.username for u in run(world.directory.list_users())}:
        world.add_user(username)
    assert world.sign_in(username).status_code == 303
    device = SoftAuthenticator()
    assert world.register(device).status_code == 200
    world.sign_out_here()
    return device


# Registration


def test_passkey_register_from_the_account_page(world: PasskeyWorld) -> None:
    user = world.add_user()
    world.sign_in()
    home = world.client.get("/")
    assert '<script src="/static/passkey.js" defer></script>' in home.text
    assert SCRIPT_POLICY in home.headers["content-security-policy"]
    attrs, _ = world.form(home, "/mfa/passkey/register")
    assert attrs["data-begin"] == "/mfa/passkey/register/options"
    assert "hidden" in attrs  # shown by passkey.js: without JavaScript nothing is offered
    fields, begun = world.begin("/", "/mfa/passkey/register", "/mfa/passkey/register/options")
    options = begun["options"]
    assert options["rp"] == {"id": RP_ID, "name": "Zerogate"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"  # not an admin
    device = SoftAuthenticator()
    done = world.client.post(
        "/mfa/passkey/register",
        data={
            **fields,
            "ticket": begun["ticket"],
            "credential": device.create(json.dumps(options), origin=PUBLIC_URL),
            "name": " Work laptop ",
        },
    )
    assert done.status_code == 200, done.text
    assert "<h1>Passkey added</h1>" in done.text
    assert done.text.count("<li><code>") == 10  # the first second factor brings recovery codes
    [passkey] = run(world.passkeys.list(user))
    assert passkey.name == "Work laptop"
    home = world.client.get("/")
    assert "Work laptop" in home.text
    assert "On: 1 passkey, 10 recovery codes left." in home.text


def test_passkey_second_registration_goes_back_to_the_account_page(world: PasskeyWorld) -> None:
    world.add_user()
    world.sign_in()
    first = SoftAuthenticator()
    assert world.register(first).status_code == 200
    # Now a second factor exists, and this session has not used one: step up first (7.5.1).
    _, fields = world.form(world.client.get("/"), "/mfa/passkey/register")
    detour = world.client.post("/mfa/passkey/register/options", data={"csrf": fields["csrf"]})
    assert detour.json() == {"redirect": "/login/mfa"}
    assert world.mfa_passkey(first)[0].status_code == 303
    again = world.register(SoftAuthenticator(), name="Key")
    assert again.status_code == 303
    assert again.headers["location"] == "/?notice=passkey_added"
    assert "Passkey added." in world.client.get(again.headers["location"]).text


def test_passkey_remove_from_the_account_page(world: PasskeyWorld) -> None:
    user = world.add_user()
    world.sign_in()
    device = SoftAuthenticator()
    world.register(device)
    [passkey] = run(world.passkeys.list(user))
    _, fields = world.form(world.client.get("/"), "/mfa/passkey/remove")
    # Removing a factor needs a recent second factor too (ASVS 5.0 7.5.1).
    assert world.client.post("/mfa/passkey/remove", data=fields).headers["location"] == (
        "/login/mfa"
    )
    assert run(world.passkeys.list(user)) == [passkey]
    world.mfa_passkey(device)
    _, fields = world.form(world.client.get("/"), "/mfa/passkey/remove")
    assert fields["passkey"] == passkey.id
    removed = world.client.post("/mfa/passkey/remove", data=fields)
    assert removed.status_code == 303
    assert removed.headers["location"] == "/?notice=passkey_removed"
    assert run(world.passkeys.list(user)) == []
    assert world.client.post("/mfa/passkey/remove", data=fields).headers["location"] == "/"


def test_passkey_registration_needs_a_recent_sign_in(world: PasskeyWorld) -> None:
    """ASVS 5.0 7.5.1: adding a factor 10 minutes after the sign-in asks to sign in again."""
    world.add_user()
    world.sign_in()
    _, fields = world.form(world.client.get("/"), "/mfa/passkey/register")
    world.clock.advance(601)
    stale = world.client.post("/mfa/passkey/register/options", data={"csrf": fields["csrf"]})
    assert stale.status_code == 401
    assert stale.json() == {"redirect": "/login?prompt=login"}


def test_passkey_registration_failure_stores_nothing(world: PasskeyWorld) -> None:
    user = world.add_user()
    world.sign_in()
    fields, begun = world.begin("/", "/mfa/passkey/register", "/mfa/passkey/register/options")
    bad = SoftAuthenticator().create(json.dumps(begun["options"]), origin="https://evil.example")
    refused = world.client.post(
        "/mfa/passkey/register", data={**fields, "ticket": begun["ticket"], "credential": bad}
    )
    assert refused.status_code == 401
    assert PasskeyInvalid.MESSAGE in refused.text
    assert run(world.passkeys.list(user)) == []
    assert run(world.recovery.remaining(user)) == 0


# Sign-in


def test_passkey_sign_in_without_a_username(world: PasskeyWorld) -> None:
    device = _with_passkey(world)
    page = world.client.get("/login")
    assert SCRIPT_POLICY in page.headers["content-security-policy"]
    attrs, _ = world.form(page, "/login/passkey")
    assert "data-optional" in attrs
    signed_in, _ = world.passkey_sign_in(device)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/after"
    token = world.session_token()
    assert token is not None
    session = run(world.sessions.resolve(token, now=world.clock.now()))
    assert session.amr == ("hwk", "user", "mfa")  # RFC 8176: UV makes the passkey multi-factor
    assert session.mfa_at == world.clock.now()


def test_passkey_sign_in_without_user_verification_is_refused(world: PasskeyWorld) -> None:
    """The passkey replaces password and second factor, so UV is required of everyone."""
    device = _with_passkey(world)
    refused, _ = world.passkey_sign_in(device, uv=False)
    assert refused.status_code == 401
    assert PasskeyInvalid.MESSAGE in refused.text
    assert 'aria-invalid="true"' not in refused.text  # the password fields did nothing wrong
    assert world.session_token() is None


def test_passkey_wrong_origin_is_refused(world: PasskeyWorld) -> None:
    """WA-R2: an assertion made for another origin (a phishing site) signs nobody in."""
    device = _with_passkey(world)
    refused, _ = world.passkey_sign_in(device, origin="https://login.zerogate.test.evil.example")
    assert refused.status_code == 401
    assert world.session_token() is None


def test_passkey_replayed_assertion_is_refused(world: PasskeyWorld) -> None:
    """WA-A2: a ceremony is spent by its first use; an old assertion fits no new challenge."""
    device = _with_passkey(world)
    signed_in, posted = world.passkey_sign_in(device)
    assert signed_in.status_code == 303
    world.sign_out_here()
    replay = world.client.post("/login/passkey", data=posted)
    assert replay.status_code == 401
    assert world.session_token() is None
    fields, begun = world.begin("/login", "/login/passkey", "/login/passkey/options")
    stale = {**fields, "ticket": begun["ticket"], "credential": posted["credential"]}
    assert world.client.post("/login/passkey", data=stale).status_code == 401
    assert world.session_token() is None


def test_passkey_ticket_from_another_browser_is_refused(world: PasskeyWorld) -> None:
    """The ceremony id is bound to the browser that began it (login CSRF, OA-A3)."""
    device = _with_passkey(world)
    _, begun = world.begin("/login", "/login/passkey", "/login/passkey/options")
    credential = device.get(json.dumps(begun["options"]), origin=PUBLIC_URL)
    world.client.cookies.clear()  # another browser: its own CSRF cookie and token
    _, other = world.form(world.client.get("/login"), "/login/passkey")
    moved = {**other, "ticket": begun["ticket"], "credential": credential}
    assert world.client.post("/login/passkey", data=moved).status_code == 401
    ceremony_id = begun["ticket"].split(".")[0]
    forged = {**other, "ticket": f"{ceremony_id}.AAAA", "credential": credential}
    assert world.client.post("/login/passkey", data=forged).status_code == 401
    assert world.session_token() is None


def test_passkey_forms_need_the_csrf_token(world: PasskeyWorld) -> None:
    user = world.add_user()
    world.login_page()  # the browser has its CSRF cookie
    for path in ("/login/passkey/options", "/login/passkey"):
        refused = world.client.post(path, data={"ticket": "x", "credential": "{}"})
        assert refused.status_code == 403
        assert error_code_of(refused) == "csrf_failed"
    world.sign_in()
    for path in ("/mfa/passkey/register/options", "/mfa/passkey/register", "/mfa/passkey/remove"):
        refused = world.client.post(path, data={"csrf": "not-the-token", "passkey": "pk_x"})
        assert refused.status_code == 403
        assert error_code_of(refused) == "csrf_failed"
    foreign = world.client.post(
        "/login/passkey/options",
        data={
            "csrf": world.form(world.login_page("/login?prompt=login"), "/login/passkey")[1]["csrf"]
        },
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert run(world.passkeys.list(user)) == []


def test_passkey_oversized_response_is_refused(store: Store) -> None:
    """The body limit (16 KiB) refuses first; past it, Passkeys caps the JSON at 64 KiB."""
    for world in _world(store, LoginConfig(max_body_bytes=256 * 1024)):
        device = _with_passkey(world)
        fields, begun = world.begin("/login", "/login/passkey", "/login/passkey/options")
        assertion = json.loads(device.get(json.dumps(begun["options"]), origin=PUBLIC_URL))
        assertion["padding"] = "x" * (65 * 1024)
        posted = {**fields, "ticket": begun["ticket"], "credential": json.dumps(assertion)}
        assert world.client.post("/login/passkey", data=posted).status_code == 401
        assert world.session_token() is None
    for world in _world(store):
        _, fields = world.form(world.client.get("/login"), "/login/passkey")
        huge = world.client.post("/login/passkey", data={**fields, "credential": "x" * 20_000})
        assert huge.status_code == 413
        assert error_code_of(huge) == "request_too_large"


# Second factor and step-up


def test_passkey_is_the_second_factor_after_a_password(world: PasskeyWorld) -> None:
    """A user with a passkey and no TOTP is asked for the passkey after the password."""
    device = _with_passkey(world)
    password = world.sign_in()
    assert password.headers["location"] == "/login/mfa"
    assert world.session_token() is None
    page = world.client.get("/login/mfa")
    assert 'name="code"' not in page.text  # no authenticator app to ask a code of
    assert SCRIPT_POLICY in page.headers["content-security-policy"]
    done, options = world.mfa_passkey(device, uv=False)
    assert options["userVerification"] == "preferred"
    assert len(options["allowCredentials"]) == 1  # this user's passkeys only
    assert done.status_code == 303
    assert world.amr() == ("pwd", "hwk", "user")  # two factors: password and the key
    assert world.client.cookies.get(PENDING_COOKIE_NAME) is None


def test_passkey_second_factor_next_to_totp(world: PasskeyWorld) -> None:
    device = _with_passkey(world)
    world.enrol_totp(run(world.directory.get_user("ada")))
    world.sign_in()
    page = world.client.get("/login/mfa")
    assert 'autocomplete="one-time-code"' in page.text
    done, _ = world.mfa_passkey(device)
    assert done.status_code == 303
    assert world.amr() == ("pwd", "hwk", "user", "mfa")


def test_passkey_of_someone_else_is_not_a_second_factor(world: PasskeyWorld) -> None:
    """WA-A1: after ada's password, grace's passkey proves nothing about ada."""
    _with_passkey(world, "ada")
    grace = _with_passkey(world, "grace")
    world.sign_in("ada")
    refused, _ = world.mfa_passkey(grace)
    assert refused.status_code == 401
    assert PasskeyInvalid.MESSAGE in refused.text
    assert world.session_token() is None


def test_passkey_step_up_rotates_the_session(world: PasskeyWorld) -> None:
    device = _with_passkey(world)
    world.passkey_sign_in(device)
    old = world.session_token()
    world.clock.advance(120)
    done, options = world.mfa_passkey(device, page="/login/mfa?next=/admin")
    assert options["userVerification"] == "required"  # no password in this session to add to
    assert done.status_code == 303
    assert done.headers["location"] == "/admin"
    assert world.session_token() not in (None, old)
    assert world.amr() == ("hwk", "user", "mfa")


# Administrators (issue 3)


def test_passkey_admin_must_verify_to_register(world: PasskeyWorld) -> None:
    user = _admin(world)
    world.sign_in("root")
    _, begun = world.begin("/", "/mfa/passkey/register", "/mfa/passkey/register/options")
    assert begun["options"]["authenticatorSelection"]["userVerification"] == "required"
    refused = world.register(SoftAuthenticator(), uv=False)
    assert refused.status_code == 401
    assert PasskeyInvalid.MESSAGE in refused.text
    assert run(world.passkeys.list(user)) == []


def test_passkey_admin_without_user_verification_is_refused(world: PasskeyWorld) -> None:
    _admin(world)
    device = _with_passkey(world, "root")
    world.sign_in("root")
    refused, options = world.mfa_passkey(device, uv=False)
    assert options["userVerification"] == "required"  # fixed server-side when the page began it
    assert refused.status_code == 401
    assert world.session_token() is None
    done, _ = world.mfa_passkey(device, uv=True)
    assert done.status_code == 303
    assert world.amr() == ("pwd", "hwk", "user", "mfa")


def test_passkey_admin_joined_mid_ceremony_still_needs_verification(world: PasskeyWorld) -> None:
    """UV is checked again at the end: joining the admins after the page was shown counts."""
    device = _with_passkey(world)
    world.sign_in()
    attrs, fields = world.form(world.client.get("/login/mfa"), "/login/mfa")
    run(world.directory.add_group("admins", now=world.clock.now()))
    run(world.directory.add_member("admins", "ada", now=world.clock.now()))
    credential = device.get(attrs["data-options"], origin=PUBLIC_URL, uv=False)
    refused = world.client.post("/login/mfa", data={**fields, "credential": credential})
    assert refused.status_code == 401
    assert world.session_token() is None


def test_passkey_flood_leaves_the_codes_working(store: Store) -> None:
    """Anyone may begin a username-less sign-in; past `max_pending` the codes still work."""
    for world in _world(store, limits=PasskeyLimits(max_pending=2)):
        _with_passkey(world)
        secret = world.enrol_totp(run(world.directory.get_user("ada")))
        _, fields = world.form(world.client.get("/login"), "/login/passkey")
        while (
            begun := world.client.post("/login/passkey/options", data=fields)
        ).status_code == 200:
            pass
        assert begun.status_code == 503
        assert error_code_of(begun) == "passkey_busy"
        world.sign_in()
        page = world.client.get("/login/mfa")
        assert page.status_code == 200
        assert 'data-passkey="get"' not in page.text
        assert world.submit_code(world.code(secret)).status_code == 303


def test_passkey_pages_are_accessible(world: PasskeyWorld) -> None:
    device = _with_passkey(world)
    world.enrol_totp(run(world.directory.get_user("ada")))
    login = audit(world.client.get("/login").text)
    assert [f.attrs["id"] for f in login.fields] == ["username", "password"]
    world.sign_in()
    mfa = world.client.get("/login/mfa")
    assert [f.attrs["id"] for f in audit(mfa.text).fields] == ["code"]
    assert 'aria-live="assertive"' in mfa.text
    world.mfa_passkey(device)
    account = audit(world.client.get("/").text)
    [name] = account.fields
    assert name.attrs["id"] in account.labels
    assert name.attrs["aria-describedby"] == "passkey-name-hint"


# Settings and wiring


def test_login_config_admin_group_is_a_group_name() -> None:
    assert LoginConfig(admin_group="Admins").admin_group == "admins"
    with pytest.raises(ConfigError) as caught:
        LoginConfig(admin_group="no spaces")
    assert [d.loc for d in caught.value.details] == ["admin_group"]


def test_passkey_script_is_served_and_pages_without_passkeys_stay_script_free(
    world: PasskeyWorld,
) -> None:
    script = world.client.get("/static/passkey.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "navigator.credentials.get" in script.text
    assert "script-src 'none'" in world.client.get("/logout").headers["content-security-policy"]


def test_zerogate_up_passkeys_belong_to_the_public_host(store: Store) -> None:
    passkeys = up_passkeys(store, "http://localhost:8181")
    assert passkeys is not None
    assert passkeys.relying_party.id == "localhost"
    assert passkeys.relying_party.origins == ("http://localhost:8181",)
    secure = up_passkeys(store, "https://Login.Example.com:443/")
    assert secure is not None
    assert secure.relying_party.origins == ("https://login.example.com",)
    assert up_passkeys(store, "http://127.0.0.1:8181") is None  # an RP ID is never an IP address
