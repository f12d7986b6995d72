"""argon2id hashing (parameters, rehash on change) and the password policy (ASVS 5.0 V6.2)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlalchemy import select

from zerogate.errors import InvalidInput
from zerogate.identity import Argon2Parameters, PasswordHasher, PasswordPolicy
from zerogate.identity._passwords import common_passwords
from zerogate.store import Store, users

from ._support import CHEAP, GOOD_PASSWORD, IP, T0, later, make_directory, run


def test_production_argon2_defaults_are_the_documented_ones() -> None:
    # docs/identity.md and Argon2Parameters' docstring: RFC 9106 §4 second recommended option.
    assert dataclasses.astuple(Argon2Parameters()) == (3, 65536, 4, 32, 16)
    assert not Argon2Parameters().below_owasp_minimum
    hasher = PasswordHasher()
    encoded = hasher.hash(GOOD_PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(encoded, GOOD_PASSWORD)
    assert not hasher.needs_rehash(encoded)


def test_hash_string_carries_the_configured_parameters() -> None:
    hasher = PasswordHasher(CHEAP)
    encoded = hasher.hash(GOOD_PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert encoded != hasher.hash(GOOD_PASSWORD)  # a fresh salt every time
    assert hasher.verify(encoded, GOOD_PASSWORD)
    assert not hasher.verify(encoded, GOOD_PASSWORD + "!")
    assert PasswordHasher(dataclasses.replace(CHEAP, time_cost=2)).needs_rehash(encoded)


def test_malformed_hashes_never_match_and_need_rehash() -> None:
    hasher = PasswordHasher(CHEAP)
    for bad in ("", "plain-text", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"):
        assert not hasher.verify(bad, GOOD_PASSWORD)
    assert hasher.needs_rehash("not-a-hash")


def test_passwords_are_nfkc_normalised() -> None:
    hasher = PasswordHasher(CHEAP)
    fullwidth = "ｃｏｒｒｅｃｔ ｈｏｒｓｅ"  # noqa: RUF001 - the point of the test
    assert hasher.verify(hasher.hash(fullwidth), "correct horse")


def test_weak_parameters_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="zerogate.identity"):
        PasswordHasher(CHEAP)
    assert "below the OWASP minimum" in caplog.text
    assert repr(PasswordHasher(CHEAP)).startswith("PasswordHasher(Argon2Parameters(")


def test_rehash_on_verify_when_parameters_change(store: Store) -> None:
    async def scenario() -> None:
        old = make_directory(store)
        await old.add_user("alice", "alice@example.com", password=GOOD_PASSWORD, now=T0)
        stronger = PasswordHasher(dataclasses.replace(CHEAP, time_cost=2))
        new = make_directory(store, hasher=stronger)
        first = await new.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(1))
        assert first.rehashed
        with store.connect() as conn:
            stored = conn.execute(select(users.c.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$v=19$m=8,t=2,p=1$")
        second = await new.authenticate("alice", GOOD_PASSWORD, ip=IP, now=later(2))
        assert not second.rehashed

    run(scenario())


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("vbnm123", ["password_too_short"]),
        ("qwerty", ["password_common", "password_too_short"]),
        ("PassWord123", ["password_common"]),
        ("alice", ["password_contextual", "password_too_short"]),
        ("x" * 257, ["password_too_long"]),
    ],
)
def test_policy_rejects(password: str, codes: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        PasswordPolicy().check(password, context=("alice", "alice@example.com"))
    assert sorted(d.code for d in info.value.details) == codes
    expected = "password_too_long" if "password_too_long" in codes else "password_too_weak"
    assert info.value.code == expected
    assert password not in str(info.value)  # the password is never echoed


@pytest.mark.parametrize(
    "password",
    [
        "vbnmrtyu",  # 8 characters, no composition rules (ASVS 6.2.5)
        "all lowercase words are fine",
        "x" * 256,  # long passphrases (ASVS 6.2.9 asks for at least 64)
        "ünïcödé pässwörd ✓",
    ],
)
def test_policy_accepts(password: str) -> None:
    PasswordPolicy().check(password, context=("alice",))


def test_policy_options() -> None:
    assert PasswordPolicy(check_common=False).problems("password") == []
    blocked = PasswordPolicy(extra_blocklist=frozenset({"Acme-Widgets-2026"}))
    assert [d.code for d in blocked.problems("acme-widgets-2026")] == ["password_common"]
    assert [d.code for d in PasswordPolicy(min_length=15).problems("fourteen chars")] == [
        "password_too_short"
    ]


def test_shipped_common_password_list() -> None:
    """ASVS 5.0 6.2.4: checked against at least the top 3,000 passwords."""
    common = common_passwords()
    assert len(common) >= 3000
    assert {"password", "123456", "qwerty123", "p@ssw0rd", "iloveyou"} <= common
    assert all(p == p.casefold() and p.strip() == p for p in common)
