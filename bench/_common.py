"""Helpers shared by the benchmarks: timing loops, percentiles, machine info and JSON output.

Every timing loop measures one call at a time with `time.perf_counter_ns`, after a warmup, with
the garbage collector off (collected just before), so a number is the cost of one decision as a
caller sees it, not an amortised batch.
"""

from __future__ import annotations

import datetime as _dt
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stats:
    """Latency of one benchmark cell, in microseconds (decisions/s from the mean)."""

    iterations: int
    p50_us: float
    p99_us: float
    mean_us: float
    min_us: float
    max_us: float
    decisions_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted samples."""
    if not sorted_ns:
        raise ValueError("no samples")
    rank = max(1, min(len(sorted_ns), math.ceil(q / 100.0 * len(sorted_ns))))
    return float(sorted_ns[rank - 1])


def stats_of(samples_ns: Sequence[int]) -> Stats:
    ordered = sorted(samples_ns)
    mean_ns = sum(ordered) / len(ordered)
    return Stats(
        iterations=len(ordered),
        p50_us=percentile(ordered, 50) / 1000.0,
        p99_us=percentile(ordered, 99) / 1000.0,
        mean_us=mean_ns / 1000.0,
        min_us=ordered[0] / 1000.0,
        max_us=ordered[-1] / 1000.0,
        decisions_per_s=1e9 / mean_ns if mean_ns > 0 else 0.0,
    )


def time_calls(fn: Callable[[T], object], inputs: Sequence[T], iterations: int) -> list[int]:
    """Call `fn` on `inputs` round-robin `iterations` times; one perf_counter_ns sample per call.

    GC is collected first and disabled for the loop (restored afterwards).
    """
    n = len(inputs)
    samples = [0] * iterations
    clock = time.perf_counter_ns
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(iterations):
            arg = inputs[i % n]
            t0 = clock()
            fn(arg)
            samples[i] = clock() - t0
    finally:
        if was_enabled:
            gc.enable()
    return samples


def warm(fn: Callable[[T], object], inputs: Sequence[T], calls: int) -> float:
    """Make `calls` untimed calls round-robin over `inputs`; returns the mean ns per call."""
    if calls <= 0:
        return 0.0
    t0 = time.perf_counter_ns()
    for i in range(calls):
        fn(inputs[i % len(inputs)])
    return (time.perf_counter_ns() - t0) / calls


def adaptive_iterations(est_ns: float, target: int, budget_s: float, floor: int) -> int:
    """`target` iterations, fewer if they would take longer than `budget_s`, never below `floor`."""
    if est_ns <= 0:
        return target
    fits = int(budget_s * 1e9 / est_ns)
    return max(floor, min(target, fits))


def timer_overhead_ns(iterations: int = 20_000) -> float:
    """Median cost of the timing loop around a no-op call (subtract mentally, it is tiny)."""
    ordered = sorted(time_calls(lambda _: None, [None], iterations))
    return percentile(ordered, 50)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info(*dists: str) -> dict[str, Any]:
    """Where the numbers came from: interpreter, package versions, CPU, date."""
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity(0)) if affinity else None,
        "packages": {d: _version(d) for d in dists},
    }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
