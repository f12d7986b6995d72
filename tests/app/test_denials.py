"""The deny list for decision tokens: what the change feed puts on it, and when it comes off."""

from __future__ import annotations

from zerogate.app._denials import DenyList
from zerogate.clock import FixedClock
from zerogate.control import TOPIC_ENTITY_CHANGED, TOPIC_POLICY_ACTIVATED
from zerogate.gateway.envoy import Denials

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
