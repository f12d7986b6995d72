"""`[audit] witnesses` and `witness_quorum`: parsed from zerogate.toml, every mistake reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerogate.audit import CosignatureSigner, NoteSigner
from zerogate.config import load_settings
from zerogate.errors import ConfigError

W1 = CosignatureSigner.generate("witness.test/w1").verifier().vkey
# A fixed key whose base64 holds a '+', the vkey separator (it must still parse).
W2 = "witness.test/w2+56624287+BBOY9ixtGkV8UbpqS189vS9p/KkyFiGNyJl+QWvRfZPK"


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "zerogate.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


def test_witness_settings_parse(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        f"""[audit]
witnesses = [{{ url = "https://w1.example/prefix", vkey = "{W1}" }},
             {{ url = "http://127.0.0.1:7380", vkey = "{W2}" }}]
witness_quorum = 1
""",
    )
    audit = settings.audit  # type: ignore[attr-defined]
    assert [w.url for w in audit.witnesses] == [
        "https://w1.example/prefix",
        "http://127.0.0.1:7380",
    ]
    assert audit.witnesses[0].vkey == W1
    assert audit.witness_quorum == 1
    assert load_settings(None, environ={}).audit.witnesses == ()


def test_witness_settings_report_every_mistake(tmp_path: Path) -> None:
    log_key = NoteSigner.generate("w3").verifier().vkey  # a type 0x01 key, not a witness key
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            f"""[audit]
origin = "witness.test/w1"
witness_quorum = 5
witnesses = [{{ url = "ftp://w1.example", vkey = "{W1}" }},
             {{ url = "http://w2.example/?x=1", vkey = "not a key" }},
             {{ url = "http://w3.example", vkey = "{log_key}" }},
             {{ url = "http://w4.example", vkey = "{W1}", extra = 1 }}]
""",
        )
    found = {(d.code, d.loc.rpartition(":")[2]) for d in caught.value.details}
    assert ("config_invalid", "audit.witnesses[0].url") in found
    assert ("config_invalid", "audit.witnesses[1].url") in found
    assert ("config_invalid", "audit.witnesses[1].vkey") in found
    assert ("config_invalid", "audit.witnesses[2].vkey") in found
    assert ("config_unknown_key", "audit.witnesses[3].extra") in found
    assert ("config_invalid", "audit.witnesses") in found  # a name twice, and the log's origin
    assert ("config_invalid", "audit.witness_quorum") in found
