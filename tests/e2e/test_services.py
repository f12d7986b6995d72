"""`zerogate up` and `zerogate serve pdp` as real processes, driven over HTTP as a user would."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.policy._org import EXAMPLES, context
from zerogate.clock import SystemClock
from zerogate.control import PolicyAdmin, open_bus
from zerogate.policy import Bundle
from zerogate.store import open_store

pytestmark = pytest.mark.e2e
ZEROGATE = [sys.executable, "-m", "zerogate.cli"]
URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+)")

PAT_WIKI = {
    "subject": {
        "type": "User",
        "id": "pat",
        "properties": {
            "attrs": {"email": "pat@example.test"},
            "parents": [{"type": "Group", "id": "employees"}],
        },
    },
    "action": {"name": "GET"},
    "resource": {"type": "Route", "id": "wiki-web"},
    "context": context(),
}


@contextmanager
def running(
    args: list[str], cwd: Path, env: dict[str, str], marker: str
) -> Iterator[tuple[str, str]]:
    """Start a zerogate process, wait for `marker` and its URL; stop it by PID afterwards."""
    proc = subprocess.Popen(
        [*ZEROGATE, *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if marker in line and URL_RE.search(line):
                break
        text = "".join(seen)
        match = URL_RE.search(text) if marker in text else None
        assert match, f"zerogate did not start:\n{text}"
        # Let the rest of the banner arrive without blocking the test on an open pipe.
        yield match.group(1), text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=20)
            seen.append(rest)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, -signal.SIGINT, 130), "".join(seen)


def test_up_prints_a_working_service_with_embedded_defaults(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "policies")
    up_env = {"ZEROGATE_SERVER__PORT": "0", "ZEROGATE_GATEWAY__PORT": "0"}
    with running(["up"], tmp_path, up_env, "PDP (AuthZEN)") as (
        base,
        banner,
    ):
        assert "Zerogate is up." in banner
        health = httpx.get(f"{base}/healthz", timeout=5).json()
        assert health["status"] == "ok"
        assert health["bundle"] == Bundle.from_dir(EXAMPLES).hash
        allow = httpx.post(f"{base}/access/v1/evaluation", json=PAT_WIKI, timeout=5).json()
        assert allow["decision"] is True
        payroll = {**PAT_WIKI, "resource": {"type": "Route", "id": "payroll-api"}}
        deny = httpx.post(f"{base}/access/v1/evaluation", json=payroll, timeout=5).json()
        assert deny["decision"] is False
        assert "payroll-admin" in deny["context"]["reason_user"]["en"]
    assert (tmp_path / ".zerogate" / "zerogate.db").exists()


def test_serve_pdp_replicas_on_postgres_switch_bundles_together(
    tmp_path: Path, pg_url: str, make_database
) -> None:  # type: ignore[no-untyped-def]
    url = make_database("postgresql", migrated=False)
    env = {
        "ZEROGATE_STORE__URL": url,
        "ZEROGATE_SERVER__PORT": "0",
        "ZEROGATE_POLICY__BUNDLE_DIR": str(EXAMPLES),
    }
    with (
        running(["serve", "pdp"], tmp_path, env, "AuthZEN at") as (a, _),
        running(["serve", "pdp"], tmp_path, env, "AuthZEN at") as (b, _),
    ):
        assert httpx.post(f"{a}/access/v1/evaluation", json=PAT_WIKI, timeout=5).json()["decision"]
        lockdown = Bundle(
            {"lockdown.cedar": '@id("lockdown") forbid (principal, action, resource);'}
        )

        async def push() -> None:
            store = open_store(url)
            bus = open_bus(store, poll_interval_s=0.2)
            await PolicyAdmin(store, bus, clock=SystemClock()).publish(lockdown, actor="test")
            await bus.aclose()
            store.close()

        asyncio.run(push())
        deadline = time.monotonic() + 10
        pending = {a, b}
        while pending and time.monotonic() < deadline:
            pending = {
                u
                for u in pending
                if httpx.get(f"{u}/healthz", timeout=5).json()["bundle"] != lockdown.hash
            }
            time.sleep(0.05)
        assert not pending, f"replicas still on the old bundle: {pending}"
        for base in (a, b):
            answer = httpx.post(f"{base}/access/v1/evaluation", json=PAT_WIKI, timeout=5).json()
            assert answer["decision"] is False
            assert answer["context"]["reason_admin"]["policies"] == ["lockdown"]
