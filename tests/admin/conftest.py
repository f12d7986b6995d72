"""Fixtures for the admin console: a live console over a fresh SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.admin._support import LiveConsole, live_console
from zerogate.store import open_store


@pytest.fixture
def console(make_database: Callable[..., str], tmp_path: Path) -> Iterator[LiveConsole]:
    store = open_store(make_database("sqlite"))
    try:
        with live_console(store, tmp_path) as running:
            yield running
    finally:
        store.close()
