"""`zerogate.tokens` exports a sorted `__all__` of existing names, and nothing private leaks."""

from __future__ import annotations

import zerogate.tokens
from zerogate.errors import ZerogateError
from zerogate.tokens import TokenError


def test_exports_sorted_and_existing() -> None:
    exported = zerogate.tokens.__all__
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    ordered = sorted(exported, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    assert exported == ordered
    assert all(hasattr(zerogate.tokens, name) for name in exported)
    assert not [n for n in exported if n.startswith("_")]


def test_exports_error_codes_are_stable_and_distinct() -> None:
    exported = [getattr(zerogate.tokens, n) for n in zerogate.tokens.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, TokenError)]
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes))
    assert set(codes) == {
        "token_invalid",
        "token_malformed",
        "token_signature_invalid",
        "token_expired",
        "token_not_yet_valid",
        "token_audience_mismatch",
        "token_issuer_mismatch",
        "token_type_mismatch",
        "token_key_unknown",
        "token_header_forbidden",
        "token_too_large",
    }
    assert issubclass(TokenError, ZerogateError)
    assert all(e.status == 401 for e in errors)
