"""Event bus fixtures: `bus_url` runs a test on the in-memory bus, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def bus_url(request: pytest.FixtureRequest, make_database: Callable[..., str]) -> str | None:
    """A fresh migrated database URL for the bus under test; None means the in-memory bus."""
    if request.param == "memory":
        return None
    return make_database(request.param)
