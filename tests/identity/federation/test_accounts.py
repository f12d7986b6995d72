"""Account linking, JIT provisioning and group synchronisation, on both store backends.

OIDC-22: an upstream account is (upstream, sub); an email address never links two accounts.
"""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest

from tests.identity._support import T0, Recorder, make_directory, run
from zerogate.config import GroupRuleSettings
from zerogate.identity import ChangeKind, Directory
from zerogate.identity.federation import (
    FederationFailed,
    UpstreamIdentity,
    compile_rules,
)
from zerogate.identity.federation._accounts import Accounts
from zerogate.identity.federation._sync import sync_groups
from zerogate.identity.federation._upstreams import session_amr
from zerogate.store import Store

RULES = compile_rules(
    [
        GroupRuleSettings(value="Engineering", group="engineering"),
        GroupRuleSettings(value="Ops", group="ops"),
    ],
    groups_claim="groups",
)


def identity(subject: str = "00u1", upstream: str = "corp", **claims: Any) -> UpstreamIdentity:
    merged: dict[str, Any] = {
        "sub": subject,
        "email": "Alice@Corp.test",
        "email_verified": True,
        "preferred_username": "alice",
        **claims,
    }
    merged = {k: v for k, v in merged.items() if v is not None}
    amr = merged.get("amr", [])
    return UpstreamIdentity(
        upstream=upstream,
        issuer="https://idp.corp.test",
        subject=subject,
        email=merged.get("email"),
        email_verified=merged.get("email_verified") is True,
        preferred_username=merged.get("preferred_username"),
        name=merged.get("name"),
        amr=tuple(amr),
        auth_time=T0,
        claims=MappingProxyType(merged),
    )


def _resolve(accounts: Accounts, who: UpstreamIdentity, *, verified: bool = True) -> Any:
    return run(accounts.resolve(who, require_verified_email=verified, now=T0))


def _failure(accounts: Accounts, who: UpstreamIdentity, *, verified: bool = True) -> str:
    with pytest.raises(FederationFailed) as caught:
        _resolve(accounts, who, verified=verified)
    return str(caught.value.reason)


def test_first_sign_in_provisions_then_the_link_is_reused(store: Store) -> None:
    recorder = Recorder()
    directory = make_directory(store, on_change=recorder)
    accounts = Accounts(store, directory)
    first = _resolve(accounts, identity(name="Alice L"))
    assert first.created
    user = first.user
    assert (user.username, user.email, user.display_name) == ("alice", "alice@corp.test", "Alice L")
    assert not user.has_password
    assert [c.kind for c in recorder.changes] == [ChangeKind.USER_CREATED]
    again = _resolve(accounts, identity(email="changed@corp.test", preferred_username="x"))
    assert (again.created, again.user.id) == (False, user.id)  # the link, not the claims
    links = run(accounts.links_of(user))
    assert [(link.upstream, link.subject) for link in links] == [("corp", "00u1")]


def test_same_subject_at_two_upstreams_is_two_people(store: Store) -> None:
    accounts = Accounts(store, make_directory(store))
    corp = _resolve(accounts, identity())
    partner = _resolve(accounts, identity(upstream="partner", email="alice@partner.test"))
    assert partner.created
    assert partner.user.id != corp.user.id
    assert partner.user.username == "alice-2"


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"preferred_username": "Alice.Liddell@corp.test"}, "alice.liddell"),
        ({"preferred_username": "  Ålice (Admin)  "}, "alice-admin"),
        ({"preferred_username": "..."}, "alice"),  # nothing usable: the email's local part
        ({"preferred_username": None, "email": "o'brien+x@corp.test"}, "o-brien-x"),
        ({"preferred_username": "-", "email": "_@corp.test"}, "user"),
        ({"preferred_username": "a" * 100}, "a" * 64),
    ],
)
def test_usernames_are_derived_and_valid(
    store: Store, claims: dict[str, Any], username: str
) -> None:
    accounts = Accounts(store, make_directory(store))
    assert _resolve(accounts, identity(**claims)).user.username == username


def test_taken_usernames_get_a_suffix(store: Store) -> None:
    directory = make_directory(store)
    run(directory.add_user("alice", "someone@else.test", now=T0))
    run(directory.add_user("alice-2", "another@else.test", now=T0))
    accounts = Accounts(store, directory)
    assert _resolve(accounts, identity()).user.username == "alice-3"


def test_an_address_already_taken_is_never_adopted(store: Store) -> None:
    """OIDC-22: the local Alice is not handed to whoever the upstream says has her address.
    An administrator links the accounts; from then on the link is used."""
    directory = make_directory(store)
    local = run(directory.add_user("alice", "alice@corp.test", now=T0))
    accounts = Accounts(store, directory)
    assert _failure(accounts, identity()) == "email_taken"
    assert run(accounts.link("corp", "00u1", local, now=T0)) is True
    assert run(accounts.link("corp", "00u1", local, now=T0)) is False
    assert _resolve(accounts, identity()).user.id == local.id
    assert run(accounts.unlink("corp", "00u1")) is True
    assert _failure(accounts, identity()) == "email_taken"


@pytest.mark.parametrize(
    ("claims", "verified", "reason"),
    [
        ({"email": None}, True, "email_missing"),
        ({"email_verified": False}, True, "email_unverified"),
        ({"email": "not an address"}, False, "email_invalid"),
    ],
)
def test_first_sign_in_needs_a_usable_email(
    store: Store, claims: dict[str, Any], verified: bool, reason: str
) -> None:
    accounts = Accounts(store, make_directory(store))
    assert _failure(accounts, identity(**claims), verified=verified) == reason


def test_unverified_email_is_accepted_when_configured(store: Store) -> None:
    accounts = Accounts(store, make_directory(store))
    assert _resolve(accounts, identity(email_verified=False), verified=False).created


def test_deleting_the_user_deletes_its_links(store: Store) -> None:
    directory = make_directory(store)
    accounts = Accounts(store, directory)
    first = _resolve(accounts, identity())
    run(directory.delete_user(first.user.username, now=T0))
    again = _resolve(accounts, identity())
    assert again.created
    assert again.user.id != first.user.id


def _sync(directory: Directory, username: str, groups: list[str]) -> tuple[Any, Any]:
    user = run(directory.get_user(username))
    return run(
        sync_groups(
            directory,
            user,
            upstream="corp",
            rules=RULES,
            claims={"groups": groups},
            now=T0 + timedelta(minutes=1),
        )
    )


def test_sync_adds_and_removes_managed_groups_only(store: Store) -> None:
    recorder = Recorder()
    directory = make_directory(store, on_change=recorder)
    run(directory.add_user("alice", "alice@corp.test", now=T0))
    run(directory.add_group("ops", now=T0))
    run(directory.add_group("local-admins", now=T0))
    run(directory.add_member("ops", "alice", now=T0))
    run(directory.add_member("local-admins", "alice", now=T0))
    recorder.changes.clear()
    assert _sync(directory, "alice", ["Engineering", "Unmapped"]) == (("engineering",), ("ops",))
    names = {g.name for g in run(directory.groups_of("alice"))}
    assert names == {"engineering", "local-admins"}
    created = run(directory.get_group("engineering"))
    assert created.description == "Mapped from upstream corp"
    kinds = [(c.kind, c.entity_id) for c in recorder.changes]
    assert kinds == [
        (ChangeKind.GROUP_CREATED, "engineering"),
        (ChangeKind.MEMBERSHIP_CHANGED, "alice"),
        (ChangeKind.MEMBERSHIP_CHANGED, "alice"),
    ]
    assert _sync(directory, "alice", ["Engineering"]) == ((), ())  # nothing to do


def test_session_amr_trusts_the_upstream_only_when_told() -> None:
    who = identity(amr=["pwd", "mfa", "otp", "kba", "mfa"])
    assert session_amr(who, trust_mfa=False) == (("fed",), None)
    assert session_amr(who, trust_mfa=True) == (("fed", "mfa", "otp"), T0)
    single = identity(amr=["pwd", "hwk"])
    assert session_amr(single, trust_mfa=True) == (("fed", "hwk"), None)
