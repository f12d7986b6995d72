"""Usernames, group names and email addresses: allowlists and one idempotent normal form."""

from __future__ import annotations

import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerogate.errors import InvalidInput
from zerogate.identity import normalise_email, normalise_group_name, normalise_username

NAME_CHARS = string.ascii_letters + string.digits + "._-"
EDGE = string.ascii_letters + string.digits
names = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(EDGE),
    st.text(NAME_CHARS, max_size=62),
    st.sampled_from(["", *EDGE]),
).filter(lambda name: name[-1].isalnum())  # with an empty `last`, `middle` may end in '.', '_', '-'
local_atoms = st.text(
    string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=10
)
labels = st.builds(
    lambda a, b: a + b,
    st.sampled_from(EDGE),
    st.text(EDGE + "-", max_size=10).map(lambda s: s.rstrip("-")),
)
emails = st.builds(
    lambda local, domain: f"{'.'.join(local)}@{'.'.join(domain)}",
    st.lists(local_atoms, min_size=1, max_size=3),
    st.lists(labels, min_size=1, max_size=3),
)


@given(names)
def test_valid_usernames_normalise_to_lowercase_idempotently(name: str) -> None:
    normal = normalise_username(name)
    assert normal == name.lower()
    assert normalise_username(normal) == normal
    assert normalise_group_name(name) == normal


@given(emails)
def test_valid_emails_normalise_to_lowercase_idempotently(email: str) -> None:
    normal = normalise_email(email)
    assert normal == email.lower()
    assert normalise_email(normal) == normal
    assert normal.rpartition("@")[2] == email.rpartition("@")[2].lower()


def _outcome(normalise: Callable[[str], str], text: str) -> tuple[str, list[str]]:
    """("ok", [normal form]) or (error code, [detail codes])."""
    try:
        return "ok", [normalise(text)]
    except InvalidInput as error:
        return error.code, [d.code for d in error.details]


@given(st.text(max_size=80))
def test_any_text_is_either_rejected_with_a_code_or_a_fixed_point(text: str) -> None:
    for normalise, code in [
        (normalise_username, "username_invalid"),
        (normalise_email, "email_invalid"),
    ]:
        outcome, values = _outcome(normalise, text)
        if outcome == "ok":
            assert values[0].isascii()
            assert normalise(values[0]) == values[0]
        else:
            assert (outcome, values) == (code, [code])


@pytest.mark.parametrize(
    "name",
    ["", "-alice", "alice-", "al ice", "alice@example.com", "ålice", "a" * 65, "alice\n", "a/b"],
)
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_username(name)
    assert info.value.code == "username_invalid"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "@example.com",
        "alice@",
        "alice@@example.com",
        "al ice@example.com",
        ".alice@example.com",
        "al..ice@example.com",
        "alice@-example.com",
        "alice@example..com",
        "alice@exämple.com",
        "alice@example.com\n",
        "a" * 65 + "@example.com",
        "alice@" + "a" * 250 + ".com",
    ],
)
def test_invalid_emails(email: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_email(email)
    assert info.value.code == "email_invalid"
