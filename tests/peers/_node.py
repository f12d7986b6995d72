"""Runs the Node peers (openid-client RP, oidc-provider upstream OP) for the Python OIDC tests."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

PEERS_DIR = Path(__file__).resolve().parent
RP_SCRIPT = PEERS_DIR / "rp.mjs"
OP_SCRIPT = PEERS_DIR / "upstream-op.mjs"
_LOCKFILE = PEERS_DIR / "package-lock.json"
_STAMP = PEERS_DIR / "node_modules" / ".zerogate-lock.sha256"
_NPM_CI_TIMEOUT = 600.0
# oidc-provider 9 calls URL.parse and crypto.hash, which Node.js has since 20.18.
_NODE_MINIMUM = (20, 18)

_installed = threading.Event()
_install_guard = threading.Lock()


class PeerError(Exception):
    """A peer said no: `code` is openid-client's (`OAUTH_*`), the OP's or ours (`PEER_*`)."""

    def __init__(
        self, peer: str, code: str | None, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{peer}: [{code}] {message}")
        self.peer = peer
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    @classmethod
    def from_output(cls, peer: str, stderr: str, returncode: int | None = None) -> PeerError:
        """Build from a peer's stderr, whose last line is its JSON error object."""
        lines = [line for line in stderr.splitlines() if line.strip()]
        try:
            details = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            details = {}
        if not isinstance(details, dict) or "error" not in details:
            tail = "\n".join(lines[-20:]) or "(no output)"
            return cls(peer, "PEER_CRASHED", f"exit {returncode}: {tail}")
        return cls(peer, details.get("code"), str(details["error"]), details)


def _unavailable(message: str, environ: Mapping[str, str]) -> NoReturn:
    # CI must run these tests, so a missing toolchain is a failure there, not a quiet skip.
    if environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _tool(name: str, environ: Mapping[str, str]) -> str:
    found = shutil.which(name, path=environ.get("PATH"))
    if not found:
        _unavailable(
            f"`{name}` is not installed; the OIDC peer tests need Node.js 20.18+ and npm "
            "(`make system-deps` installs them, or `apt-get install nodejs npm`).",
            environ,
        )
    return found


def _check_node_version(node: str, environ: Mapping[str, str]) -> None:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    parts = version.lstrip("v").split(".")[:2]
    if not all(p.isdigit() for p in parts) or tuple(map(int, parts)) < _NODE_MINIMUM:
        _unavailable(
            f"{node} is {version or 'unusable'}; the OIDC peer tests need Node.js 20.18+.",
            environ,
        )


def _lock_digest() -> str:
    return hashlib.sha256(_LOCKFILE.read_bytes()).hexdigest()


def _up_to_date(digest: str) -> bool:
    try:
        return _STAMP.read_text().strip() == digest
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    # Outside the tree (npm ci deletes node_modules/) and per checkout, so parallel pytest
    # workers of one checkout serialise and two checkouts do not block each other.
    key = hashlib.sha256(str(PEERS_DIR).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"zerogate-peers-{key}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_node_modules(*, environ: Mapping[str, str] | None = None) -> None:
    """Install tests/peers/node_modules from the lockfile (`npm ci`) unless it already matches.

    Skips the calling test when Node.js or npm is missing, except under CI (`CI` set) where that
    fails the test. Safe to call from every test and from parallel workers.
    """
    env = os.environ if environ is None else environ
    if _installed.is_set():
        return
    _check_node_version(_tool("node", env), env)
    npm = _tool("npm", env)
    with _install_guard, _install_lock():
        digest = _lock_digest()
        if not _up_to_date(digest):
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=PEERS_DIR,
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=_NPM_CI_TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(
                    f"`npm ci` in {PEERS_DIR} failed ({done.returncode}):\n{done.stderr[-4000:]}",
                    pytrace=False,
                )
            _STAMP.write_text(digest + "\n")
        _installed.set()


def _node() -> str:
    ensure_node_modules()
    return _tool("node", os.environ)


def run_rp(step: str, payload: Mapping[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """Run one rp.mjs step (see docs/peers.md) and return its JSON result.

    Raises `PeerError` with openid-client's code (e.g. `OAUTH_JWT_CLAIM_COMPARISON_FAILED`) when
    the RP rejects what the OP sent, `RP_USAGE` for bad input, `PEER_TIMEOUT` after `timeout`.
    """
    node = _node()
    try:
        done = subprocess.run(
            [node, str(RP_SCRIPT), step],
            cwd=PEERS_DIR,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"rp {step}", "PEER_TIMEOUT", f"no answer in {timeout}s") from exc
    if done.returncode != 0:
        raise PeerError.from_output(f"rp {step}", done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _leaves_op(target: httpx.URL, op: httpx.URL, redirect_uri: str | None) -> bool:
    if (target.scheme, target.host, target.port) != (op.scheme, op.host, op.port):
        return True
    bare = str(target.copy_with(query=None, fragment=None))
    return redirect_uri is not None and bare == redirect_uri


def _op_refused(response: httpx.Response) -> PeerError:
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    code = body.get("error") if isinstance(body, dict) else None
    return PeerError(
        "upstream-op login",
        str(code) if code else f"HTTP_{response.status_code}",
        f"{response.request.method} {response.url} -> {response.status_code}: {body}",
        body if isinstance(body, dict) else None,
    )


def login_upstream(
    client: httpx.Client,
    authorize_url: str,
    account_id: str,
    *,
    approve: bool = True,
    max_steps: int = 12,
) -> str:
    """Walk upstream-op.mjs's login (and consent) as `account_id`; return the RP callback URL.

    Follows the OP's redirects by hand with `client` (which keeps the OP's cookies, so a second
    call reuses the session), answers the login and consent prompts, and stops at the first
    redirect that leaves the OP or hits the request's `redirect_uri`, without following it.
    `approve=False` cancels at the first prompt, so the callback carries `error=access_denied`.
    """
    op = httpx.URL(authorize_url)
    redirect_uri = op.params.get("redirect_uri")
    response = client.get(op, follow_redirects=False)
    for _ in range(max_steps):
        if not response.is_redirect:
            raise _op_refused(response)
        target = response.url.join(response.headers["location"])
        if _leaves_op(target, op, redirect_uri):
            return str(target)
        if not target.path.startswith("/interaction/"):
            response = client.get(target, follow_redirects=False)
            continue
        # upstream-op.mjs answers its interaction page as JSON when asked (see its header).
        page = client.get(target, headers={"Accept": "application/json"}, follow_redirects=False)
        if page.status_code != 200:
            raise _op_refused(page)
        prompt = page.json()
        if not approve:
            action, form = prompt["abort_url"], {}
        elif prompt["prompt"] == "login":
            action, form = prompt["login_url"], {"login": account_id}
        elif prompt["prompt"] == "consent":
            action, form = prompt["confirm_url"], {}
        else:
            raise PeerError("upstream-op login", "PEER_PROTOCOL", f"unknown prompt {prompt!r}")
        response = client.post(target.join(action), data=form, follow_redirects=False)
    raise PeerError("upstream-op login", "PEER_PROTOCOL", f"no callback after {max_steps} hops")


@dataclass(frozen=True, slots=True)
class UpstreamOP:
    """A running upstream-op.mjs: its issuer, PID and stderr log."""

    issuer: str
    pid: int
    log_path: Path

    def login(
        self,
        authorize_url: str,
        account_id: str,
        *,
        client: httpx.Client | None = None,
        approve: bool = True,
    ) -> str:
        """Log in as `account_id` and return the redirect to the RP (see `login_upstream`)."""
        if client is not None:
            return login_upstream(client, authorize_url, account_id, approve=approve)
        with httpx.Client(trust_env=False, timeout=10.0) as fresh:
            return login_upstream(fresh, authorize_url, account_id, approve=approve)

    def log(self) -> str:
        """What the OP wrote to stderr so far (oidc-provider notices, server errors)."""
        return self.log_path.read_text(errors="replace")


def _await_ready(proc: subprocess.Popen[bytes], timeout: float, log_path: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerError("upstream-op", "PEER_TIMEOUT", f"not ready in {timeout}s")
            if selector.select(left):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(timeout=5)
                    raise PeerError.from_output(
                        "upstream-op", log_path.read_text(errors="replace"), proc.returncode
                    )
                buffer += chunk
    ready: dict[str, Any] = json.loads(buffer.split(b"\n", 1)[0])
    if ready.get("ready") is not True:
        raise PeerError("upstream-op", "PEER_PROTOCOL", f"unexpected first line {ready!r}")
    return ready


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Only ever this child, by its PID: SIGTERM lets the server close, SIGKILL if it hangs.
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def upstream_op(
    *,
    clients: Sequence[Mapping[str, Any]],
    accounts: Mapping[str, Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    ready_timeout: float = 20.0,
) -> Iterator[UpstreamOP]:
    """Start upstream-op.mjs on a free loopback port; stop it (by PID) on exit.

    `clients` are oidc-provider client metadata (client_id, client_secret, redirect_uris, ...),
    `accounts` map account id (= sub) to claims; `options` adds other config keys (docs/peers.md).
    """
    node = _node()
    config = {**(options or {}), "clients": list(clients), "accounts": dict(accounts)}
    with tempfile.TemporaryDirectory(prefix="zerogate-upstream-op-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        log_path = Path(tmp) / "stderr.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [node, str(OP_SCRIPT), "--port", "0", str(config_path)],
                cwd=PEERS_DIR,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        try:
            ready = _await_ready(proc, ready_timeout, log_path)
            yield UpstreamOP(issuer=ready["issuer"], pid=proc.pid, log_path=log_path)
        finally:
            _stop(proc)
