"""`zerogate serve idp` replicas on one PostgreSQL, behind one public URL: one issuer, one key
set, sealed secrets both can open, and a code from one replica redeemed at the other."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.test_services import running
from zerogate.identity import Directory, Sessions
from zerogate.identity.oidc import ClientRegistry
from zerogate.store import new_master_key, open_store, parse_master_keys

pytestmark = pytest.mark.e2e
PUBLIC = "https://sso.example.test"
RP = "https://rp.example.test/cb"


def test_two_idp_replicas_share_issuer_keys_and_grants(
    tmp_path: Path, pg_url: str, make_database: Callable[..., str]
) -> None:
    url = make_database("postgresql", migrated=True)
    master = new_master_key()
    env = {
        "ZEROGATE_STORE__URL": url,
        "ZEROGATE_STORE__SECRET_KEY": master,
        "ZEROGATE_SERVER__PORT": "0",
        "ZEROGATE_SERVER__PUBLIC_URL": PUBLIC,
    }
    with (
        running(["serve", "idp"], tmp_path, env, "zerogate idp") as (a, _),
        running(["serve", "idp"], tmp_path, env, "zerogate idp") as (b, _),
    ):
        meta = [
            httpx.get(f"{x}/.well-known/openid-configuration", timeout=5).json() for x in (a, b)
        ]
        assert meta[0] == meta[1]
        assert meta[0]["issuer"] == PUBLIC
        kids = [
            {k["kid"] for k in httpx.get(f"{x}/jwks.json", timeout=5).json()["keys"]}
            for x in (a, b)
        ]
        assert kids[0] == kids[1]

        store = open_store(url, sealer=parse_master_keys(master))
        try:

            async def setup() -> tuple[str, str | None, str]:
                now = datetime.now(UTC)
                ada = await Directory(store).add_user("ada", "ada@example.test", now=now)
                new = await Sessions(store).create(
                    ada, amr=["pwd"], auth_time=now, ip=None, user_agent=None, now=now
                )
                added = await ClientRegistry(store).add("RP", redirect_uris=[RP], now=now)
                return added.client.client_id, added.secret, new.token

            client_id, secret, token = asyncio.run(setup())
        finally:
            store.close()

        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": RP,
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        cookie = {"Cookie": f"__Host-zerogate_session={token}"}
        reply = httpx.get(f"{a}/authorize", params=params, headers=cookie, timeout=5)
        assert reply.status_code == 302, reply.text
        code = parse_qs(urlsplit(reply.headers["location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": RP,
            "code_verifier": verifier,
        }
        tokens = httpx.post(f"{b}/token", data=form, auth=(client_id, secret or ""), timeout=5)
        assert tokens.status_code == 200, tokens.text
        refreshed = httpx.post(
            f"{a}/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
            auth=(client_id, secret or ""),
            timeout=5,
        )
        assert refreshed.status_code == 200, refreshed.text
        userinfo = httpx.get(
            f"{b}/userinfo",
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
            timeout=5,
        )
        assert userinfo.json()["sub"].startswith("usr_")


def test_serve_idp_needs_a_public_url(tmp_path: Path) -> None:
    env = {"ZEROGATE_SERVER__PORT": "0", "ZEROGATE_DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run(
        [sys.executable, "-m", "zerogate.cli", "serve", "idp"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "server.public_url" in done.stderr + done.stdout
