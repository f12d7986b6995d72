"""The app around the endpoints: metadata document, health, and the package's public face."""

from __future__ import annotations

from typing import TYPE_CHECKING

import zerogate.authzen
from zerogate.policy import PDP

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.testclient import TestClient

METADATA = "/.well-known/authzen-configuration"


def test_metadata_derives_identifier_from_request(client: TestClient) -> None:
    response = client.get(METADATA)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "policy_decision_point": "http://testserver",
        "access_evaluation_endpoint": "http://testserver/access/v1/evaluation",
        "access_evaluations_endpoint": "http://testserver/access/v1/evaluations",
    }


def test_metadata_uses_configured_public_url(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url="https://pdp.example.com/")

    document = client.get(METADATA, headers={"host": "evil.example"}).json()

    assert document == {
        "policy_decision_point": "https://pdp.example.com",
        "access_evaluation_endpoint": "https://pdp.example.com/access/v1/evaluation",
        "access_evaluations_endpoint": "https://pdp.example.com/access/v1/evaluations",
    }


def test_healthz_reports_active_bundle(client: TestClient, pdp: PDP) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "bundle": pdp.bundle_hash}


def test_healthz_ready_gate(make_client: Callable[..., TestClient], pdp: PDP) -> None:
    state = {"ready": False}
    client = make_client(ready=lambda: state["ready"])

    unready = client.get("/healthz")
    state["ready"] = True
    ready = client.get("/healthz")

    assert unready.status_code == 503
    assert unready.json() == {"status": "unavailable"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "bundle": pdp.bundle_hash}


def test_healthz_unavailable_when_ready_check_raises(
    make_client: Callable[..., TestClient],
) -> None:
    def broken() -> bool:
        raise OSError("socket gone")

    response = make_client(ready=broken).get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_healthz_follows_bundle_swaps(client: TestClient, pdp: PDP) -> None:
    before = client.get("/healthz").json()["bundle"]
    pdp.activate(pdp.bundle)

    assert client.get("/healthz").json()["bundle"] == before == pdp.bundle_hash


def test_authzen_all_is_sorted_and_exported() -> None:
    names = zerogate.authzen.__all__

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda n: (not n.isupper(), n[0].islower(), n))
    assert all(hasattr(zerogate.authzen, name) for name in names)
