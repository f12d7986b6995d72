"""Helpers for identity tests: a cheap hasher, a fixed start time, and running async scenarios."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection

from zerogate.identity import (
    Argon2Parameters,
    Directory,
    IdentityChange,
    LoginLimits,
    PasswordHasher,
)
from zerogate.store import Store

T = TypeVar("T")
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
IP = "198.51.100.7"
GOOD_PASSWORD = "correct horse battery staple"

# Tests only: argon2id at its minimum cost (production defaults are tested separately).
CHEAP = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)


class CountingHasher(PasswordHasher):
    """A cheap hasher that counts verifications (to check every failure path does exactly one)."""

    __slots__ = ("verifications",)

    def __init__(self, parameters: Argon2Parameters = CHEAP) -> None:
        super().__init__(parameters)
        self.verifications = 0

    def verify(self, encoded: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(encoded, password)


class Recorder:
    """An `on_change` recorder that keeps what it saw, and can be told to fail."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.changes: list[IdentityChange] = []
        self.fail_on = fail_on

    def __call__(self, conn: Connection, change: IdentityChange, /) -> None:
        assert conn.in_transaction()
        if self.fail_on is not None and change.kind == self.fail_on:
            raise RuntimeError(f"recorder refused {change.kind}")
        self.changes.append(change)


def make_directory(store: Store, **options: Any) -> Directory:
    options.setdefault("hasher", CountingHasher())
    return Directory(store, **options)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(coro: Coroutine[Any, Any, T], *, timeout_s: float = 30.0) -> T:
    """Run an async scenario from a sync test, failing (not hanging) after `timeout_s`."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(bounded())


__all__ = [
    "CHEAP",
    "GOOD_PASSWORD",
    "IP",
    "T0",
    "CountingHasher",
    "LoginLimits",
    "Recorder",
    "later",
    "make_directory",
    "run",
]
