"""Peer certificate identity: the SPIFFE ID Envoy vouches for, as a Cedar `Workload`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.check._peer_support import BILLING, bundle_with_workload_policy
from tests.gateway.check._support import CheckWorld, make_world, request
from zerogate.gateway.check._peer import peer_spiffe_id
from zerogate.store import Store, open_store

BY = "By=spiffe://gw.example/envoy;Hash=ab12"


@pytest.mark.parametrize(
    ("xfcc", "expected"),
    [
        (f"{BY};URI={BILLING}", BILLING),
        (f"Hash=ab12;URI={BILLING}", BILLING),
        (None, None),
        ("", None),
        (f"{BY};URI={BILLING};URI=spiffe://example.test/other", None),  # two URI SANs
        (f"{BY};URI={BILLING},Hash=cd;URI=spiffe://example.test/x", None),  # two elements
        (f'{BY};Subject="CN=a,O=b";URI={BILLING}', None),  # quoted values: not what we set
        (f"{BY};URI=https://example.test/billing", None),  # not a SPIFFE ID
        (f"{BY};URI=spiffe://example.test", None),  # no path
        (f"{BY};URI=spiffe://Example.test/x", None),  # trust domains are lower case
        (f"{BY};URI=spiffe://example.test/a/../admin", None),
        (f"{BY};URI=spiffe://example.test/a?x=1", None),
        (f"{BY};URI={BILLING}" + "x" * 5000, None),
    ],
)
def test_peer_spiffe_id_reads_exactly_one_uri_san(xfcc: str | None, expected: str | None) -> None:
    assert peer_spiffe_id(xfcc) == expected


@pytest.fixture
def peer_world(make_database: Any) -> Iterator[CheckWorld]:
    store: Store = open_store(make_database("sqlite"))
    try:
        yield make_world(store, bundle=bundle_with_workload_policy())
    finally:
        store.close()


def test_a_certificate_alone_makes_the_workload_the_principal(peer_world: CheckWorld) -> None:
    allowed = peer_world.check(request("ledger-api", accept=None, peer_spiffe_id=BILLING))
    assert allowed.allowed
    assert allowed.header("x-zerogate-user") == BILLING
    assert peer_world.records[-1].principal == f'Workload::"{BILLING}"'
    other = "spiffe://example.test/ns/dev/sa/other"
    denied = peer_world.check(request("ledger-api", accept=None, peer_spiffe_id=other))
    assert denied.status == 403
    # A workload gets no decision token and nothing a browser session gets.
    assert allowed.header("set-cookie") is None


def test_a_person_with_a_device_certificate_is_still_the_person(peer_world: CheckWorld) -> None:
    alice = peer_world.add_user("alice", "engineering")
    result = peer_world.check(request(cookie=peer_world.sign_in(alice), peer_spiffe_id=BILLING))
    assert result.allowed
    assert peer_world.records[-1].principal == 'User::"alice"'
    # ... and a person is never let into what only the workload may reach.
    ledger = peer_world.check(
        request("ledger-api", cookie=peer_world.sign_in(alice), peer_spiffe_id=BILLING)
    )
    assert ledger.status == 403


def test_the_policy_request_names_the_workload_and_the_peer(peer_world: CheckWorld) -> None:
    from zerogate.gateway.check._authn import peer_identity
    from zerogate.gateway.check._policy_request import policy_request

    req = request("ledger-api", peer_spiffe_id=BILLING)
    question = policy_request(req, "ledger-api", "GET", peer_identity(BILLING))
    assert (question.principal.type, question.principal.id) == ("Workload", BILLING)
    (entity,) = question.entities
    assert entity.attrs == {"spiffe_id": BILLING, "trust_domain": "example.test"}
    assert question.context["authn"]["amr"] == ["x509"]
    assert question.context["authn"]["idp"] == "spiffe"
    assert question.context["network"]["peer_spiffe_id"] == BILLING
