"""The fast path is audited: every GET Envoy lets through on a decision token (and every token
it turns away from the deny list) becomes a decision entry naming the check's decision the
token was minted on (issue 5 item 1; standards OBS-01). Real Envoy, real check, real log."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from envoy_support import Upstream, run
from test_envoy_local_decisions import (  # the local-decision world, shared
    BROWSER,
    HOST,
    WIKI,
    claims_of,
    client,
    gateway_for,
    on_the_fast_path,
    services,
    world,
)

from tests.gateway.check._support import ISSUER, CheckWorld
from zerogate.app._fast_path_audit import FastPathAudit, fast_path_entry
from zerogate.audit import AuditLog, EventKind, NoteSigner, Outcome, read_records
from zerogate.gateway.envoy import (
    Denials,
    EnvoyProcess,
    FastPathLine,
    Gateway,
    LocalDecisions,
    Route,
    build_listener,
)

__all__ = ["services", "world"]  # fixtures, imported for pytest


def logging_gateway(
    services: tuple[str, str], upstream_url: str, log: Path, *, allows: bool = True
) -> Gateway:
    plain = gateway_for(services, upstream_url)
    local = plain.local_decisions
    assert local is not None
    return dataclasses.replace(
        plain,
        local_decisions=dataclasses.replace(local, access_log=str(log), access_log_allows=allows),
    )


async def until(condition: object, what: str) -> None:
    for _ in range(200):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_envoy_writes_a_line_for_each_token_decided_get_and_none_for_checked_requests(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)
    log = tmp_path / "fast-path.log"
    gateway = logging_gateway(services, upstream_url, log)

    async def scenario() -> None:
        async with EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy:
            async with client(envoy) as http:
                token, cookies = await on_the_fast_path(http, world, session)
                checked = len(world.records)
                response = await http.get(
                    "/page?secret=hunter2",
                    headers={**BROWSER, "cookie": cookies, "traceparent": _TRACEPARENT},
                )
                assert response.status_code == 200
                assert len(world.records) == checked  # Envoy decided it
                await until(lambda: _ours(_lines(log)), "the access log line")
                # A request the check answers is the check's to record: no line for it.
                assert (
                    await http.post("/page", headers={**BROWSER, "cookie": cookies})
                ).status_code
                await asyncio.sleep(1.0)  # two flush intervals: a line would be there by now
            every = _lines(log)
            lines = _ours(every)
            claims = claims_of(token)
            assert len(lines) == 1
            assert all(b'"method":"GET"' in raw for raw in every)  # never the checked POST
            line = FastPathLine.parse(lines[0])
            assert line is not None
            assert (line.method, line.status, line.route) == ("GET", 200, "wiki.get")
            assert line.decision_id == claims["did"]
            assert line.session_id == claims["sid"]
            assert (line.user, line.epoch) == ("alice", claims["pe"])
            assert line.ip == "127.0.0.1"
            assert line.request_id
            raw = lines[0].decode()
            assert "hunter2" not in raw  # no query string
            assert token[:20] not in raw  # no token
            entry = fast_path_entry(line, WIKI)
            assert (entry.kind, entry.decision) == (EventKind.DECISION, Outcome.ALLOW)
            assert entry.resource == f'Route::"{WIKI}"'
            assert entry.principal == 'User::"alice"'
            assert entry.trace_id == _TRACEPARENT.split("-")[1]
            assert entry.attrs["decided_by"] == "envoy"

    run(scenario())


def test_the_follower_records_allows_and_deny_list_hits_and_rotates_the_file(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)
    log = tmp_path / "fast-path.log"
    gateway = logging_gateway(services, upstream_url, log)
    audit_dir = tmp_path / "audit"
    signer = NoteSigner.generate("test.zerogate/audit")

    async def scenario() -> None:
        async with (
            AuditLog.open(audit_dir, signer=signer, checkpoint_interval_s=0) as audit,
            EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy,
            client(envoy) as http,
        ):
            # A tiny limit: the file is rotated after (about) every line.
            follower = FastPathAudit(log, envoy, audit, max_bytes=200, poll_s=0.05)
            task = asyncio.create_task(follower.run())
            try:
                token, cookies = await on_the_fast_path(http, world, session)
                settled = follower.recorded
                for _ in range(5):
                    response = await http.get("/page", headers={**BROWSER, "cookie": cookies})
                    assert response.status_code == 200
                await envoy.deny(Denials(sessions=frozenset({claims_of(token)["sid"]})))
                turned = await http.get("/page", headers={**BROWSER, "cookie": cookies})
                assert turned.status_code == 307
                await until(lambda: follower.recorded >= settled + 6, "six fast-path entries")
                rotated = log.with_name(log.name + ".1")
                await until(lambda: not rotated.exists(), "the rotated file read and removed")
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert follower.skipped == 0
        entries = [r.entry for r in read_records(audit_dir) if r.entry.attrs.get("decided_by")]
        assert [e.decision for e in entries[-6:]] == [Outcome.ALLOW] * 5 + [Outcome.DENY]
        assert entries[-1].reason.startswith("the decision token was on the deny list")

    run(scenario())


def test_by_default_only_the_tokens_envoy_turns_away_are_logged(
    world: CheckWorld,
    services: tuple[str, str],
    upstream: Upstream,
    upstream_url: str,
    tmp_path: Path,
) -> None:
    """`[audit] fast_path = "denies"`: a GET allowed on a token reuses a decision already in
    the log and writes nothing; a token on the deny list is Envoy's own deny and is logged."""
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice)
    log = tmp_path / "fast-path.log"
    gateway = logging_gateway(services, upstream_url, log, allows=False)

    async def scenario() -> None:
        async with (
            EnvoyProcess(gateway, workdir=tmp_path / "envoy") as envoy,
            client(envoy) as http,
        ):
            token, cookies = await on_the_fast_path(http, world, session)
            for _ in range(3):
                ok = await http.get("/page", headers={**BROWSER, "cookie": cookies})
                assert ok.status_code == 200
            await envoy.deny(Denials(sessions=frozenset({claims_of(token)["sid"]})))
            turned = await http.get("/page", headers={**BROWSER, "cookie": cookies})
            assert turned.status_code == 307
            await until(lambda: bool(_lines(log)), "the deny-list hit's line")
            await asyncio.sleep(1.0)  # two flush intervals: any allow's line would be there
        lines = [FastPathLine.parse(raw) for raw in _lines(log)]
        assert [(line.status, line.user) for line in lines if line is not None] == [(307, "alice")]

    run(scenario())


def test_the_access_log_only_matches_requests_jwt_authn_verified() -> None:
    """The filter keys on the same verified-token metadata that lets ext_authz be skipped."""
    gateway = Gateway(
        listen_port=1,
        admin_port=2,
        authz_url="http://127.0.0.1:3",
        routes=(Route("wiki", hosts=(HOST,), upstream="http://127.0.0.1:4", resource_id=WIKI),),
        local_decisions=LocalDecisions(
            issuer=ISSUER, jwks_url="http://127.0.0.1:5/jwks.json", access_log="/tmp/x.log"
        ),
    )
    hcm = build_listener(gateway)["filter_chains"][0]["filters"][0]["typed_config"]
    [access_log] = hcm["access_log"]
    # By default only Envoy's own denies: a verified token AND the deny list's 307.
    verified, turned_away = access_log["filter"]["and_filter"]["filters"]
    assert turned_away["status_code_filter"]["comparison"]["value"]["default_value"] == 307
    assert verified["metadata_filter"]["matcher"]["filter"] == "envoy.filters.http.jwt_authn"
    every = dataclasses.replace(
        gateway,
        local_decisions=dataclasses.replace(gateway.local_decisions, access_log_allows=True),  # type: ignore[arg-type]
    )
    hcm = build_listener(every)["filter_chains"][0]["filters"][0]["typed_config"]
    [access_log] = hcm["access_log"]
    matcher = access_log["filter"]["metadata_filter"]["matcher"]
    assert matcher["filter"] == "envoy.filters.http.jwt_authn"
    assert matcher["value"] == {"present_match": True}
    assert access_log["filter"]["metadata_filter"]["match_if_key_not_found"] is False
    fields = access_log["typed_config"]["log_format"]["json_format"]
    assert "%REQ(:PATH)%" not in fields.values()  # never the query string
    assert not any("COOKIE" in v.upper() for v in fields.values())


def test_a_line_that_is_not_ours_is_skipped() -> None:
    assert FastPathLine.parse(b"not json") is None
    assert FastPathLine.parse(b"[1, 2]") is None
    assert FastPathLine.parse(b'{"status": "abc"}') is None
    dashes = FastPathLine.parse(b'{"status": "200", "did": "-", "user": "-"}')
    assert dashes is not None
    assert (dashes.decision_id, dashes.user) == ("", "")


_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _ours(lines: list[bytes]) -> list[bytes]:
    """The lines of the request this test traced (earlier fast-path GETs may flush later)."""
    return [line for line in lines if _TRACEPARENT.encode() in line]


def _lines(path: Path) -> list[bytes]:
    try:
        return [line for line in path.read_bytes().split(b"\n") if line]
    except FileNotFoundError:
        return []
