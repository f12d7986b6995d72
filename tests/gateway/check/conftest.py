"""Fixtures for the check service: a SQLite store with the example organisation's groups.

Most tests run on SQLite only (the check reads through the identity faces, whose queries are
tested on both backends); `test_check_session_allowed_on_both_backends` uses the parametrized
`store` fixture to run on PostgreSQL too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.gateway.check._support import CheckWorld, make_world
from zerogate.store import Store, open_store


@pytest.fixture
def sqlite_store(make_database: Callable[..., str]) -> Iterator[Store]:
    opened = open_store(make_database("sqlite"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(sqlite_store: Store) -> CheckWorld:
    return make_world(sqlite_store)
