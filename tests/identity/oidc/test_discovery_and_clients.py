"""Discovery (DISC-01..03), the JWKS with rotation (OIDC-09), and the client registry's checks."""

from __future__ import annotations

import pytest

from tests.identity._support import T0, run
from tests.identity.oidc._op import ISSUER, OP
from zerogate.errors import Conflict
from zerogate.identity.oidc import ClientInvalid


def test_disc_01_02_metadata_names_our_endpoints_and_choices(op: OP) -> None:
    reply = op.http.get("/.well-known/openid-configuration")
    assert reply.status_code == 200
    meta = reply.json()
    assert meta["issuer"] == ISSUER
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        assert meta[key].startswith(ISSUER + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["backchannel_logout_supported"] is True


def test_disc_03_oidc_09_jwks_announces_the_next_key_before_it_signs(op: OP) -> None:
    before = op.http.get("/jwks.json")
    assert before.status_code == 200
    assert "max-age=300" in before.headers["cache-control"]
    kids = {k["kid"] for k in before.json()["keys"]}
    assert len(kids) == 1
    for key in before.json()["keys"]:
        assert "d" not in key  # public members only
    new = op.keys.rotate(op.clock.now())
    after = {k["kid"] for k in op.http.get("/jwks.json").json()["keys"]}
    assert after == kids | {new.kid}
    # Tokens are still signed by the old key until the new one activates.
    client, secret = op.client()
    tokens = op.tokens(client, secret, op.login(op.user()))
    import base64, json  # noqa: E401, I001

    header = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))
    assert header["kid"] in kids


def test_registration_reports_every_problem_at_once(op: OP) -> None:
    with pytest.raises(ClientInvalid) as raised:
        run(
            op.clients.add(
                "",
                redirect_uris=["http://evil.test/cb", "https://ok.test/*", "https://ok.test/cb#x"],
                post_logout_redirect_uris=["javascript:alert(1)"],
                client_id="usr_123",
                scopes=["openid", "admin"],
                now=T0,
            )
        )
    locs = [d.loc for d in raised.value.details]
    assert locs == sorted(locs, key=lambda s: (s.split("[")[0], s))
    codes = {d.code for d in raised.value.details}
    assert codes == {
        "client_id_invalid",
        "client_name_invalid",
        "redirect_uri_invalid",
        "scope_invalid",
    }
    assert len([d for d in raised.value.details if d.code == "redirect_uri_invalid"]) == 4


def test_loopback_http_and_private_schemes_are_allowed_for_native_apps(op: OP) -> None:
    added = run(
        op.clients.add(
            "CLI",
            public=True,
            redirect_uris=["http://127.0.0.1:8400/cb", "http://[::1]/cb", "com.example.app:/oauth"],
            now=T0,
        )
    )
    assert added.secret is None
    assert added.client.auth_method == "none"


def test_duplicate_client_ids_conflict(op: OP) -> None:
    op.client(client_id="rp-one")
    with pytest.raises(Conflict):
        op.client(client_id="rp-one")


def test_rotating_a_secret_stops_the_old_one(op: OP) -> None:
    client, secret = op.client()
    code, flow = op.code_for(client, op.login(op.user()))
    new_secret = run(op.clients.rotate_secret(client.client_id))
    assert op.redeem(client, secret, code, flow).status_code == 401
    code, flow = op.code_for(client, op.login(op.user("bob")))
    assert op.redeem(client, new_secret, code, flow).status_code == 200


def test_secrets_are_never_stored_in_clear(op: OP) -> None:
    from sqlalchemy import select

    from zerogate.store import oauth_clients

    client, secret = op.client()
    with op.store.connect() as conn:
        stored = conn.execute(select(oauth_clients.c.secret_hash)).scalar()
    assert secret is not None
    assert stored != secret
    assert secret not in repr(run(op.clients.get(client.client_id)))
