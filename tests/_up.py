"""`zerogate up` as a real child process for end-to-end tests: started in a directory of the
test's, its output kept line by line (logs included), stopped with Ctrl-C by its own PID."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.policy._org import EXAMPLES

CLI = [sys.executable, "-m", "zerogate.cli"]
WAIT_S = 30.0  # the bound on every wait (never asserted as a duration)


def up_env(**settings: str) -> dict[str, str]:
    """The environment for `zerogate up` on ports the OS picks, with plain-http routes."""
    return {
        **os.environ,
        "ZEROGATE_SERVER__PORT": "0",
        "ZEROGATE_GATEWAY__PORT": "0",
        "ZEROGATE_GATEWAY__TLS": "off",
        **settings,
    }


def cli(cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `zerogate ARGS` in `cwd`; fails the test with its output if it fails."""
    done = subprocess.run(
        [*CLI, *args], input=stdin, cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"zerogate {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


@dataclass
class Up:
    """A running `zerogate up` and everything it has printed so far."""

    proc: subprocess.Popen[str]
    workdir: Path
    login: str  # http://localhost:PORT of the sign-in pages
    gateway: str  # http://localhost:PORT of the gateway
    lines: list[str] = field(default_factory=list)

    @property
    def gateway_port(self) -> int:
        return int(self.gateway.rsplit(":", 1)[1])

    def printed(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.lines))

    def envoy_pids(self) -> set[int]:
        return envoy_children(self.proc.pid)


def envoy_children(pid: int) -> set[int]:
    """The Envoys process `pid` runs: its children started with a bootstrap file (only looked
    at, never signalled: `zerogate up` stops its own). From /proc, as Envoy's command line
    names the bootstrap file by a path relative to its working directory."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {child for child in map(int, children.split()) if _is_envoy(child)}


def running_envoys(pids: set[int]) -> set[int]:
    """Those of `pids` that are still Envoy processes (a reused PID runs something else)."""
    return {pid for pid in pids if _is_envoy(pid)}


def _is_envoy(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # gone (a zombie's command line is empty: not running either)
    return any(arg.endswith(b"bootstrap.json") for arg in argv)


def prepare(workdir: Path, config: str) -> None:
    """The example policies (`zerogate up` loads them from ./examples/policies) and the file."""
    shutil.copytree(EXAMPLES, workdir / "examples" / "policies")
    (workdir / "zerogate.toml").write_text(config)


@contextlib.contextmanager
def zerogate_up(workdir: Path, env: dict[str, str]) -> Iterator[Up]:
    """Start `zerogate up` in `workdir`; stop it (and so its Envoy) when the block ends."""
    proc = subprocess.Popen(
        [*CLI, "up"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:  # keeps the pipe drained, and every line for the test to look at
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    watchdog = threading.Timer(WAIT_S * 4, proc.kill)  # our own child, by its handle
    watchdog.start()
    try:
        eventually(
            lambda: (
                any(line.startswith("Press Ctrl+C") for line in lines) or proc.poll() is not None
            ),
            "zerogate up printed its banner",
        )
        text = "".join(lines)
        login = re.search(r"sign in +(http://localhost:\d+)/login", text)
        gateway = re.search(r"gateway +(http://localhost:\d+)/", text)
        assert login, text
        assert gateway, text
        yield Up(proc, workdir, login.group(1), gateway.group(1), lines)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the process this test started; it stops Envoy
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
