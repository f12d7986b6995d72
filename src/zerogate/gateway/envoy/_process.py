"""The supervisor: one Envoy process, reconfigured in place, restarted when it dies, stopped by PID.

Reload: `apply()` validates the new Gateway with Envoy, then swaps the xDS files (`_reload`).
Connections stay open; route and cluster changes apply to the next request on them.
Restart: an unexpected exit is logged and Envoy is started again after a capped, jittered
backoff; it reads the xDS files, which always hold the last configuration Envoy accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import random
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

import orjson

from zerogate.errors import ConfigError, ErrorDetail
from zerogate.gateway.envoy._admin import EnvoyAdmin
from zerogate.gateway.envoy._bootstrap import build_bootstrap
from zerogate.gateway.envoy._local_decisions import Denials
from zerogate.gateway.envoy._logs import LOG_FORMAT, MAX_LINE_BYTES, EnvoyLogRelay
from zerogate.gateway.envoy._reload import EnvoyError, XdsReloader, plan
from zerogate.gateway.envoy._restart import RestartPolicy
from zerogate.gateway.envoy._routes import Gateway
from zerogate.gateway.envoy._validate import check_config, find_envoy
from zerogate.gateway.envoy._xds import XdsKind, XdsLayout, render, render_routes

_PR_SET_PDEATHSIG = 1  # prctl(2)

log = logging.getLogger("zerogate.gateway.envoy")

NO_COMPONENT_LOG_LEVELS: Mapping[str, str] = MappingProxyType({})
ACCESS_LOG_FLUSH_MS = 500
_RESTART_FIELDS = ("admin_port", "concurrency")  # bootstrap and command line: not xDS


class EnvoyProcess:
    """Runs Envoy for one Gateway; use `async with EnvoyProcess(...)` or `start()`/`aclose()`.

    `workdir` holds `bootstrap.json` and the watched `xds/` files; it is the caller's and is left
    in place. `rng` (restart jitter) and `monotonic` (uptime) are injectable.
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        workdir: Path,
        envoy: Path | None = None,
        node_id: str = "zerogate-gateway",
        log_level: str = "warning",
        component_log_levels: Mapping[str, str] = NO_COMPONENT_LOG_LEVELS,
        restart: RestartPolicy | None = None,
        ready_timeout_s: float = 30.0,
        apply_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
        poll_interval_s: float = 0.01,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gateway = gateway
        self._workdir = workdir
        self._envoy = envoy
        self._node_id = node_id
        self._log_level = log_level
        self._component_levels = dict(component_log_levels)
        self._policy = restart or RestartPolicy()
        self._ready_timeout_s = ready_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._poll_s = poll_interval_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._monotonic = monotonic
        self._layout = XdsLayout(workdir / "xds")
        self._admin = EnvoyAdmin(gateway.admin_port)
        self._reloader = XdsReloader(
            self._layout,
            self._admin,
            relay=lambda: self._relay,
            closing=lambda: self._closing,
            timeout_s=apply_timeout_s,
            poll_s=poll_interval_s,
        )
        self._process: asyncio.subprocess.Process | None = None
        self._relay: EnvoyLogRelay | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._started_at = 0.0
        self._attempt = 0
        self._closing = False
        self._restarts = 0
        self._denials = Denials()

    @property
    def gateway(self) -> Gateway:
        """The configuration Envoy runs now (the last one applied)."""
        return self._gateway

    @property
    def pid(self) -> int | None:
        """The running Envoy's PID; None before start, after close or while restarting."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def restarts(self) -> int:
        """How many times the supervisor has started Envoy again after it died."""
        return self._restarts

    @property
    def admin_url(self) -> str:
        return self._admin.url

    async def __aenter__(self) -> EnvoyProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Validate, write the files, start Envoy and wait until it is ready (raises EnvoyError)."""
        async with self._lock:
            if self._process is not None or self._closing:
                raise RuntimeError("EnvoyProcess.start() may be called once")
            self._envoy = self._envoy or find_envoy()
            self._workdir.mkdir(parents=True, exist_ok=True)
            await check_config(self._gateway, envoy=self._envoy)
            self._reloader.write_all(render(self._gateway, self._layout, self._denials))
            bootstrap = build_bootstrap(self._gateway, xds=self._layout, node_id=self._node_id)
            self._bootstrap_path.write_bytes(orjson.dumps(bootstrap, option=orjson.OPT_INDENT_2))
            try:
                await self._spawn()
                await self._wait_ready()
                await self._reloader.confirm_all()
            except BaseException:
                await self._stop_process()
                await self._admin.aclose()
                raise
            self._watcher = asyncio.create_task(self._watch(), name="envoy-supervisor")

    async def apply(self, gateway: Gateway) -> None:
        """Reconfigure the running Envoy for `gateway` without a restart.

        Raises ConfigError when Envoy refuses the configuration (nothing changes) or when a field
        only a restart can change differs (`gateway_restart_required`); EnvoyError on a timeout.
        """
        async with self._lock:
            if self._process is None or self._closing:
                raise RuntimeError("apply() needs a started, open EnvoyProcess")
            changed = [
                f for f in _RESTART_FIELDS if getattr(gateway, f) != getattr(self._gateway, f)
            ]
            if changed:
                details = [
                    ErrorDetail("gateway_restart_required", name, "cannot change without a restart")
                    for name in changed
                ]
                raise ConfigError(
                    "the change needs an Envoy restart",
                    code="gateway_restart_required",
                    details=details,
                )
            await check_config(gateway, envoy=self._envoy)
            new = render(gateway, self._layout, self._denials)
            for step in plan(self._reloader.documents, new):
                await self._reloader.swap(step)
            self._gateway = gateway
            log.info(
                "envoy reconfigured",
                extra={"envoy_pid": self.pid, "routes": len(gateway.routes)},
            )

    @property
    def denials(self) -> Denials:
        return self._denials

    async def deny(self, denials: Denials) -> None:
        """Swap in a new deny list for decision tokens (the route table only, no validation:
        its shape was validated with every configuration), and wait until Envoy has it.

        This is the revocation path: well under a second for thousands of entries
        (reference/envoy-local-decisions.md E). A no-op without `local_decisions`.
        """
        async with self._lock:
            if self._process is None or self._closing:
                raise RuntimeError("deny() needs a started, open EnvoyProcess")
            document = render_routes(self._gateway, denials)
            if document.version != self._reloader.documents[XdsKind.RDS].version:
                await self._reloader.swap([document])
            self._denials = denials

    async def reopen_logs(self) -> bool:
        """Have Envoy reopen its access log files (after the caller renamed one); False when
        Envoy is not answering (starting or restarting: it opens the path afresh anyway)."""
        return await self._admin.reopen_logs()

    async def aclose(self) -> None:
        """Stop Envoy (SIGTERM, then SIGKILL after `stop_timeout_s`) and the supervisor."""
        self._closing = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        async with self._lock:
            await self._stop_process()
            await self._admin.aclose()

    @property
    def _bootstrap_path(self) -> Path:
        return self._workdir / "bootstrap.json"

    async def _spawn(self) -> None:
        assert self._envoy is not None
        args = [
            str(self._envoy),
            *("-c", str(self._bootstrap_path)),
            # One Envoy per supervisor, replaced by restarting: no shared-memory hot restart.
            # The base id only has to be distinct per host; the admin port already is.
            *("--disable-hot-restart", "--base-id", str(self._gateway.admin_port)),
            *("--concurrency", str(self._gateway.concurrency)),
            *("--log-level", self._log_level, "--log-format", LOG_FORMAT),
            # Access log lines (the fast path's audit) reach their file within half a second,
            # not Envoy's default 10 s.
            *("--file-flush-interval-msec", str(ACCESS_LOG_FLUSH_MS)),
        ]
        if self._component_levels:
            levels = ",".join(f"{name}:{level}" for name, level in self._component_levels.items())
            args += ["--component-log-level", levels]
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=MAX_LINE_BYTES,
            # Its own session: a Ctrl-C in our terminal reaches us, and we stop Envoy in order
            # (it must not die first and be restarted mid-shutdown).
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._process = process
        self._started_at = self._monotonic()
        self._relay = relay = EnvoyLogRelay(process.pid)
        streams = [s for s in (process.stdout, process.stderr) if s is not None]
        self._readers = [asyncio.create_task(relay.relay(stream)) for stream in streams]
        log.info("envoy started", extra={"envoy_pid": process.pid, "envoy_binary": args[0]})

    async def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        try:
            async with asyncio.timeout(self._ready_timeout_s):
                while not await self._admin.ready():
                    if process.returncode is not None:
                        raise EnvoyError(
                            f"envoy exited during start-up (status {process.returncode}): "
                            + self._last_words(),
                            code="envoy_exited",
                        )
                    await asyncio.sleep(self._poll_s)
        except TimeoutError:
            raise EnvoyError(
                f"envoy was not ready within {self._ready_timeout_s:g} s: " + self._last_words(),
                code="envoy_not_ready",
            ) from None
        if process.returncode is not None:  # another server answered on our admin port
            raise EnvoyError("envoy exited during start-up: " + self._last_words())

    async def _watch(self) -> None:
        """Restart Envoy whenever it exits on its own, until aclose()."""
        while not self._closing:
            process = self._process
            assert process is not None
            returncode = await process.wait()
            await self._drain_readers()
            if self._closing:
                return
            uptime_s = self._monotonic() - self._started_at
            delay, self._attempt = self._policy.schedule(
                self._attempt, uptime_s=uptime_s, rng=self._rng
            )
            log.error(
                "envoy exited unexpectedly; restarting",
                extra={
                    "envoy_pid": process.pid,
                    "returncode": returncode,
                    "attempt": self._attempt,
                    "delay_s": round(delay, 3),
                },
            )
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                self._restarts += 1
                await self._wait_ready()
            except (EnvoyError, OSError) as exc:
                log.error("envoy restart failed", extra={"error": str(exc)})
                await self._kill_unready()
                continue
            log.info("envoy restarted", extra={"envoy_pid": self.pid, "restarts": self._restarts})

    async def _kill_unready(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()  # started by us, addressed by its own PID
            await process.wait()

    async def _stop_process(self) -> None:
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(self._stop_timeout_s):
                    await process.wait()
            except TimeoutError:
                log.warning("envoy ignored SIGTERM; killing it", extra={"envoy_pid": process.pid})
                process.kill()
                await process.wait()
        await self._drain_readers()
        log.info("envoy stopped", extra={"envoy_pid": process.pid})

    async def _drain_readers(self) -> None:
        readers, self._readers = self._readers, []
        if readers:
            await asyncio.gather(*readers, return_exceptions=True)

    def _last_words(self) -> str:
        """What Envoy said last (warnings and errors), for an error message."""
        lines = self._relay.since(0) if self._relay is not None else []
        return "; ".join(lines[-5:]) or "no message from envoy"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it if the supervising process dies (Linux), so a
    killed Zerogate never leaves an Envoy holding its ports."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
