"""Token throughput: `zerogate.tokens.issue`/`verify` vs raw joserfc vs raw `cryptography` ECDSA.

Run: `.venv/bin/python bench/tokens.py [--quick] [--out PATH]` (about 20 s; `--quick` a few).

All modes use the SAME ES256 (P-256) key and the same RFC 9068 access-token claim set, in one
process and one thread, so "per second" is per core:

- `zerogate` - `issue(claims, keys=ring, ...)` and `verify(token, keys=ring, ...)`: the strict
  pre-checks, claim-set checks and joserfc's ES256 underneath.
- `joserfc` - what a joserfc user would write: `jwt.encode(header, claims, key,
  algorithms=["ES256"])`, and `jwt.decode(token, key, algorithms=["ES256"])` followed by
  `JWTClaimsRegistry(iss=..., aud=..., exp=...).validate(claims)`. The ratio columns compare to it.
- `cryptography` - raw ECDSA P-256/SHA-256 sign / verify of the same signing input (DER, no JOSE
  at all): the floor every JWT library sits on.

Before timing, every token is checked to verify under both `zerogate` and `joserfc`; the bench
exits 2 if they disagree. `cpu_share` (process CPU / wall time) well below 1.0 means something
else was competing for the CPU and the numbers are low.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey, Key
from joserfc.jwt import JWTClaimsRegistry

from _common import (
    adaptive_iterations,
    machine_info,
    stats_of,
    time_calls,
    timer_overhead_ns,
    warm,
    write_json,
)
from zerogate.tokens import Algorithm, KeyRing, TokenType, issue, verify

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "tokens.json"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
ISSUER = "https://idp.zerogate.test"
AUDIENCE = "https://api.zerogate.test"
CLAIMS: dict[str, Any] = {
    "sub": "user-4f9c2a",
    "client_id": "web-app",
    "scope": "openid profile orders:read",
    "auth_time": NOW_S - 120,
    "acr": "urn:zerogate:mfa",
    "groups": ["eng", "oncall"],
}
TARGET_ISSUED_PER_S = 3_000
ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class Mode:
    op: str  # "issue" | "verify"
    impl: str  # "zerogate" | "joserfc" | "cryptography"
    call: Callable[[Any], object]
    inputs: list[Any]


def _modes(tokens: int) -> list[Mode]:
    made: list[Key] = []

    def keep(alg: Algorithm) -> Key:
        key = ECKey.generate_key("P-256", private=True)
        made.append(key)
        return key

    ring = KeyRing(key_factory=keep)
    info = ring.ensure_active(NOW)
    key = made[0]
    assert isinstance(key, ECKey)
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    public = private.public_key()
    header = {"alg": "ES256", "kid": info.kid, "typ": "at+jwt"}

    def zg_issue(_: object) -> str:
        return issue(
            CLAIMS, keys=ring, issuer=ISSUER, typ=TokenType.ACCESS, audience=AUDIENCE, now=NOW
        )

    def jose_claims() -> dict[str, Any]:
        return {
            **CLAIMS,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": NOW_S,
            "nbf": NOW_S,
            "exp": NOW_S + 300,
            "jti": "bench",
        }

    def jose_issue(_: object) -> str:
        return jwt.encode(header, jose_claims(), key, algorithms=["ES256"])

    registry = JWTClaimsRegistry(
        now=NOW_S,
        leeway=30,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )

    def zg_verify(token: str) -> object:
        return verify(
            token,
            keys=ring,
            expected_type=TokenType.ACCESS,
            expected_issuer=ISSUER,
            expected_audience=AUDIENCE,
            now=NOW,
        )

    def jose_verify(token: str) -> object:
        decoded = jwt.decode(token, key, algorithms=["ES256"])
        registry.validate(decoded.claims)
        return decoded

    zg_tokens = [zg_issue(None) for _ in range(tokens)]
    jose_tokens = [jose_issue(None) for _ in range(tokens)]
    for token in zg_tokens + jose_tokens:
        zg_verify(token)
        jose_verify(token)
    signing_inputs = [t.rsplit(".", 1)[0].encode() for t in zg_tokens]
    signed = [(private.sign(m, ECDSA), m) for m in signing_inputs]
    # Raw R||S from the token is what a JWS verifier gets; DER-encode it as cryptography wants.
    assert all(
        public.verify(encode_dss_signature(*_rs(t)), m, ECDSA) is None
        for t, m in zip(zg_tokens, signing_inputs, strict=True)
    )
    return [
        Mode("issue", "zerogate", zg_issue, [None]),
        Mode("issue", "joserfc", jose_issue, [None]),
        Mode("issue", "cryptography", lambda m: private.sign(m, ECDSA), signing_inputs),
        Mode("verify", "zerogate", zg_verify, zg_tokens),
        Mode("verify", "joserfc", jose_verify, zg_tokens),
        Mode("verify", "cryptography", lambda sm: public.verify(sm[0], sm[1], ECDSA), signed),
    ]


def _rs(token: str) -> tuple[int, int]:
    segment = token.rsplit(".", 1)[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def run(*, quick: bool) -> dict[str, Any]:
    target, budget_s, warmup = (300, 0.5, 50) if quick else (20_000, 4.0, 500)
    modes = _modes(tokens=16 if quick else 256)
    cells: list[dict[str, Any]] = []
    for mode in modes:
        est = warm(mode.call, mode.inputs, warmup)
        iterations = adaptive_iterations(est, target, budget_s, floor=100)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        samples = time_calls(mode.call, mode.inputs, iterations)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stats = stats_of(samples).as_dict()
        stats["ops_per_s"] = stats.pop("decisions_per_s")
        cells.append({"op": mode.op, "impl": mode.impl, **stats, "cpu_share": round(cpu / wall, 3)})
    for cell in cells:
        baseline = next(c for c in cells if c["op"] == cell["op"] and c["impl"] == "joserfc")
        cell["ratio_mean_vs_joserfc"] = round(cell["mean_us"] / baseline["mean_us"], 3)
    issued = _cell(cells, "issue", "zerogate")["ops_per_s"]
    return {
        "parameters": {"quick": quick, "target_iterations": target, "budget_s": budget_s},
        "machine": machine_info("joserfc", "cryptography", "orjson"),
        "timer_overhead_ns": timer_overhead_ns(),
        "cells": cells,
        "targets": [
            {
                "name": "ES256 access tokens issued per second per core",
                "target": TARGET_ISSUED_PER_S,
                "value": round(issued),
                "met": issued >= TARGET_ISSUED_PER_S,
            }
        ],
    }


def _cell(cells: list[dict[str, Any]], op: str, impl: str) -> dict[str, Any]:
    return next(c for c in cells if c["op"] == op and c["impl"] == impl)


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"{'op':<7} {'impl':<13} {'ops/s':>9} {'mean us':>8} {'p50 us':>8} {'p99 us':>8} "
        f"{'x joserfc':>9} {'cpu':>5}",
    ]
    for c in result["cells"]:
        lines.append(
            f"{c['op']:<7} {c['impl']:<13} {c['ops_per_s']:>9,.0f} {c['mean_us']:>8.1f} "
            f"{c['p50_us']:>8.1f} {c['p99_us']:>8.1f} {c['ratio_mean_vs_joserfc']:>9.2f} "
            f"{c['cpu_share']:>5.2f}"
        )
    lines.append("targets:")
    for t in result["targets"]:
        verdict = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['name']}: {t['value']:,} (target {t['target']:,}) {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small iteration counts (smoke test)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    args = parser.parse_args(argv)
    try:
        result = run(quick=args.quick)
    except Exception as error:  # a disagreement or broken setup: say so, exit 2
        print(f"bench failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
