"""The process's own `Metrics`: what the services of one `zerogate up` or `serve` share."""

from __future__ import annotations

import threading

from zerogate.telemetry._metrics import Metrics

_lock = threading.Lock()
_metrics: Metrics | None = None


def process_metrics() -> Metrics:
    """The same `Metrics` for every caller in this process, made on first use. Tests make their
    own `Metrics()` instead, so they never share counts."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics
