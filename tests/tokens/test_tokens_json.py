"""Strict segment decoding (JWT-A17): canonical base64url, duplicate-free UTF-8 JSON objects."""

from __future__ import annotations

import pytest

from zerogate.tokens._json import StrictJSONError, b64url_decode, b64url_encode, loads_object


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a":1,"a":2}', id="duplicate-top-level"),
        pytest.param(b'{"a":{"b":1,"b":1}}', id="duplicate-nested"),
        pytest.param(b'\xef\xbb\xbf{"a":1}', id="bom"),
        pytest.param(b'{"a":"\xff"}', id="invalid-utf8"),
        pytest.param(b'{"a":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"a":"\\udc00"}', id="escaped-lone-surrogate"),
        pytest.param(b'{"a":NaN}', id="nan"),
        pytest.param(b'{"a":-Infinity}', id="infinity"),
        pytest.param(b'{"a":1e999}', id="float-overflow"),
        pytest.param(b'{"a":' + b"9" * 21 + b"}", id="int-over-20-digits"),
        pytest.param(b"[1]", id="array"),
        pytest.param(b'"a"', id="string"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b'{"a":1} x', id="trailing-data"),
    ],
)
def test_json_loads_object_refuses(raw: bytes) -> None:
    with pytest.raises(StrictJSONError):
        loads_object(raw)


def test_json_loads_object_accepts_escaped_surrogate_pairs_and_unicode() -> None:
    assert loads_object(b'{"e":"\\ud83d\\ude00","n":"\xc3\xa9","i":-12,"f":1.5}') == {
        "e": "\U0001f600",
        "n": "é",
        "i": -12,
        "f": 1.5,
    }


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("ab+c", id="standard-alphabet"),
        pytest.param("ab/c", id="slash"),
        pytest.param("abc=", id="padding"),
        pytest.param("ab c", id="space"),
        pytest.param("abcd\n", id="newline"),
        pytest.param("a", id="impossible-length"),
        pytest.param("AB", id="non-canonical-trailing-bits"),
    ],
)
def test_json_b64url_decode_refuses(segment: str) -> None:
    with pytest.raises(StrictJSONError):
        b64url_decode(segment)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", b"hello world", bytes(range(256))])
def test_json_b64url_round_trip(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
