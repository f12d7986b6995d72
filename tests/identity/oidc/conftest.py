from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.identity.oidc._op import OP
from zerogate.store import open_store


@pytest.fixture
def op(make_database: Callable[..., str]) -> Iterator[OP]:
    """A provider on SQLite (the flows that must hold on PostgreSQL too are parametrized)."""
    store = open_store(make_database("sqlite"))
    provider = OP(store)
    try:
        yield provider
    finally:
        provider.http.close()
        store.close()
