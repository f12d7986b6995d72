"""What `zerogate up` shows in its terminal: Zerogate's own log records from INFO up, one line
each, their structured fields as `key=value` (routes reloaded, Envoy started, sign-ins).

Only the `zerogate` logger is set up; uvicorn keeps its own settings (access log off) and Envoy's
output is its supervisor's business, so neither gets louder.
"""

from __future__ import annotations

import logging
from typing import Any, TextIO

LOGGER = "zerogate"
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)


class OneLineFormatter(logging.Formatter):
    """`12:00:01 INFO zerogate.app routes reloaded routes=app,wiki`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        line = super().format(record)
        head, _, rest = line.partition("\n")  # a traceback, if any, stays below the line
        head += "".join(f" {key}={_value(value)}" for key, value in fields.items())
        return f"{head}\n{rest}" if rest else head


class _TerminalHandler(logging.StreamHandler[TextIO]):
    """Ours, so that setting up twice (tests run `zerogate up` in-process) replaces it."""


def log_to_terminal(stream: TextIO, *, level: int = logging.INFO) -> None:
    """Send `zerogate.*` records of `level` and above to `stream`, one line each."""
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _TerminalHandler)]:
        logger.removeHandler(handler)
    handler = _TerminalHandler(stream)
    handler.setFormatter(OneLineFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)


def _value(value: Any) -> str:
    """A field as one word: lists joined with commas; quoted if it has spaces or quotes."""
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    plain = text and not any(c.isspace() or c in "\"'=" for c in text)
    return text if plain else repr(text)
