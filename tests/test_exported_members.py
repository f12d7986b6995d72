"""Every part's public face declares a sorted `__all__` of names that really exist."""

from __future__ import annotations

import importlib

import pytest

FACES = [
    "zerogate",
    "zerogate.app",
    "zerogate.audit",
    "zerogate.authzen",
    "zerogate.cli",
    "zerogate.clock",
    "zerogate.config",
    "zerogate.control",
    "zerogate.errors",
    "zerogate.gateway",
    "zerogate.gateway.check",
    "zerogate.gateway.envoy",
    "zerogate.gateway.tls",
    "zerogate.identity",
    "zerogate.identity.federation",
    "zerogate.idp",
    "zerogate.policy",
    "zerogate.policy.testing",
    "zerogate.sdk",
    "zerogate.store",
    "zerogate.telemetry",
    "zerogate.tokens",
]


@pytest.mark.parametrize("name", FACES)
def test_face_exports_sorted_existing_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    ordered = sorted(exported, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    assert exported == ordered, f"{name}.__all__ is not sorted"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name} exports missing names {missing}"
