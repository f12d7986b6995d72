"""Envoy's own log lines, folded into ours: one record per line on `zerogate.gateway.envoy`."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

log = logging.getLogger("zerogate.gateway.envoy")

# `--log-format`: level, Envoy's logger (component), message; easy to split, hard to misread.
LOG_FORMAT = "%l|%n|%v"
_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
# Warnings Envoy gives for what we asked it to do: not worth a warning of ours.
_EXPECTED = frozenset({"caught ENVOY_SIGTERM", "caught SIGTERM"})
MAX_LINE_BYTES = 1 << 20  # the StreamReader limit: Envoy can log long config errors
_KEPT_LINES = 50


class EnvoyLogRelay:
    """Relays one Envoy process's output; keeps its last warnings for error messages."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.recent: deque[tuple[int, str]] = deque(maxlen=_KEPT_LINES)  # (sequence, text)
        self.sequence = 0
        self._level = logging.WARNING  # for lines without our prefix (continuations, crashes)

    def feed(self, line: str) -> None:
        text = line.rstrip("\r\n")
        if not text:
            return
        level_name, sep, rest = text.partition("|")
        component, sep2, message = rest.partition("|")
        if sep and sep2 and level_name in _LEVELS:
            self._level = _LEVELS[level_name]
            if message in _EXPECTED:
                self._level = logging.INFO
        else:
            component, message = "", text
        self.sequence += 1
        if self._level >= logging.WARNING:
            self.recent.append((self.sequence, message))
        log.log(
            self._level,
            "envoy: %s",
            message,
            extra={"envoy_pid": self.pid, "envoy_component": component},
        )

    def since(self, sequence: int) -> list[str]:
        """Warnings and errors logged after `sequence` (a value of `self.sequence`)."""
        return [text for seq, text in self.recent if seq > sequence]

    async def relay(self, stream: asyncio.StreamReader) -> None:
        """Read `stream` to its end, one record per line."""
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line beyond the reader's limit: keep its start, drop the rest
                raw = await stream.read(MAX_LINE_BYTES)
            if not raw:
                return
            self.feed(raw.decode(errors="replace"))
