"""The deny list for decision tokens: what the change feed puts on it, and when it comes off."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from zerogate.app._denials import DenyList, enforce_denials
from zerogate.clock import FixedClock, SystemClock
from zerogate.control import TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED, InProcessBus
from zerogate.gateway.check import DecisionTokens
from zerogate.gateway.envoy import Denials
from zerogate.tokens import KeyRing

OLD = "a" * 64
NEW = "b" * 64


def test_revoked_sessions_and_changed_users_are_denied_until_no_token_can_carry_them() -> None:
    clock = FixedClock()
    deny = DenyList(clock=clock, keep_s=21, epoch=OLD)
    revoked = {"type": "User", "id": "alice", "change": "sessions_revoked"}
    deny.apply(TOPIC_ENTITY_CHANGED, {**revoked, "session_ids": ["s1", "s2"]})
    # A changed user or group lists nothing: the token's TTL bounds those already, and listing
    # the user would refuse the fresh tokens the check mints for her (a redirect loop).
    deny.apply(TOPIC_ENTITY_CHANGED, {"type": "User", "id": "bob", "change": "groups"})
    deny.apply(TOPIC_ENTITY_CHANGED, {"type": "Group", "id": "admins"})
    assert deny.denials() == Denials(sessions=frozenset({"s1", "s2"}))
    clock.advance(20)
    assert not deny.prune()
    assert len(deny.denials()) == 2
    clock.advance(1)
    assert deny.prune()
    assert deny.denials() == Denials()


def test_a_policy_activation_denies_the_previous_epoch_and_never_the_current() -> None:
    clock = FixedClock()
    deny = DenyList(clock=clock, keep_s=21, epoch=OLD)
    deny.apply(TOPIC_POLICY_ACTIVATED, {"bundle": NEW})
    assert deny.denials().epochs == {OLD[:16]}
    deny.apply(TOPIC_POLICY_ACTIVATED, {"bundle": OLD})  # rolled back within the TTL
    assert deny.denials().epochs == {NEW[:16]}
    deny.apply(TOPIC_POLICY_ACTIVATED, {"bundle": OLD})  # the same again: nothing new
    assert deny.denials().epochs == {NEW[:16]}


class _Envoy:
    """Stands in for EnvoyProcess.deny: records every deny list it is given."""

    def __init__(self) -> None:
        self.lists: list[Denials] = []
        self.changed = asyncio.Event()

    async def deny(self, denials: Denials) -> None:
        if not self.lists or self.lists[-1] != denials:
            self.lists.append(denials)
            self.changed.set()


def test_the_follower_lists_revocations_and_waits_for_the_pdp_before_an_old_epoch() -> None:
    """The loop `zerogate up` runs: events in, deny lists out; an old policy epoch is listed
    only once the local PDP decides under the new bundle (else the check would mint tokens
    that Envoy refuses at once: a redirect loop)."""
    bus = InProcessBus()
    envoy = _Envoy()
    tokens = DecisionTokens(KeyRing(), issuer="https://login.test")
    pdp_bundle = [OLD]

    async def until(pred: Any) -> None:
        async with asyncio.timeout(10):
            while not pred():
                envoy.changed.clear()
                await envoy.changed.wait()

    async def scenario() -> None:
        follower = asyncio.create_task(
            enforce_denials(
                bus,
                envoy,  # type: ignore[arg-type]
                tokens,
                clock=SystemClock(),
                epoch=lambda: pdp_bundle[0],
                clock_skew_s=5,
            )
        )
        try:
            await asyncio.sleep(0.05)  # subscribed
            revoked = {"type": "User", "id": "ada", "change": "sessions_revoked"}
            await bus.publish(TOPIC_ENTITY_CHANGED, {**revoked, "session_ids": ["s1"]})
            await until(lambda: envoy.lists and envoy.lists[-1].sessions == {"s1"})
            await bus.publish(TOPIC_POLICY_ACTIVATED, {"bundle": NEW})
            await asyncio.sleep(0.3)  # the PDP is still on OLD: nothing about epochs yet
            assert all(not d.epochs for d in envoy.lists)
            pdp_bundle[0] = NEW
            await until(lambda: envoy.lists[-1].epochs == {OLD[:16]})
            assert envoy.lists[-1].sessions == {"s1"}
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    asyncio.run(scenario())
