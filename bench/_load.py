"""Load runs for `bench/gateway.py`: wrk with its numbers read from a Lua `done` hook, and the
CPU each process tree used meanwhile (the baseline's accounting, from /proc).

wrk prints its own table too; the hook writes one `ZGWRK` line with the exact counts (requests,
duration, every error class) and latency percentiles in microseconds, so nothing is parsed from
human-formatted text. CPU: `utime+stime` of each server's process tree from `/proc/<pid>/stat`
before and after the run, wrk's own from `RUSAGE_CHILDREN` (the only child that exits during a
run), machine busy and steal shares from `/proc/stat`.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_CPUS = os.cpu_count() or 1  # /proc/stat's first line sums every CPU
_FIELDS = (
    "requests",
    "duration_us",
    "connect",
    "read",
    "write",
    "status",
    "timeout",
    "p50_us",
    "p99_us",
    "max_us",
    "mean_us",
)
_LUA = """\
wrk.headers["Host"] = {host}
{extra}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ZGWRK %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
"""


def write_script(
    path: Path, *, host: str, cookie: str | None, mean_delay_ms: int | None = None
) -> Path:
    """A wrk Lua script sending `Host` (and `Cookie`); 0600, since it may hold a session token.

    `mean_delay_ms`: each connection waits a random 0..2x that many ms (whole ms, wrk's timer
    granularity) before each request, so a few connections make a paced, desynchronised load.
    """
    lines = [] if cookie is None else [f'wrk.headers["Cookie"] = {json.dumps(cookie)}']
    if mean_delay_ms is not None:
        lines.append(f"delay = function() return math.random(0, {2 * mean_delay_ms}) end")
    extra = "\n".join(lines)
    path.write_text(_LUA.format(host=json.dumps(host), extra=extra))
    path.chmod(0o600)
    return path


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]  # connect, read, write, status (>= 400), timeout
    p50_us: float
    p99_us: float
    max_us: float
    mean_us: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


async def run_wrk(
    wrk: str, url: str, script: Path, *, threads: int, connections: int, duration_s: int
) -> WrkResult:
    """`wrk -tT -cC -dDs --latency -s SCRIPT URL`; killed (by its handle) if it overruns."""
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), duration_s + 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"wrk overran its {duration_s} s run by 20 s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode(errors='replace')}")
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("ZGWRK "):
            values = dict(zip(_FIELDS, map(float, line.split()[1:]), strict=True))
            return WrkResult(
                requests=int(values["requests"]),
                duration_s=values["duration_us"] / 1e6,
                errors={
                    k: int(values[k]) for k in ("connect", "read", "write", "status", "timeout")
                },
                p50_us=values["p50_us"],
                p99_us=values["p99_us"],
                max_us=values["max_us"],
                mean_us=values["mean_us"],
            )
    raise RuntimeError(f"wrk printed no result line: {out.decode(errors='replace')[-500:]}")


# CPU accounting ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime seconds) of one process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(rest[1]), (int(rest[11]) + int(rest[12])) * _TICK_S


def _all_processes() -> dict[int, tuple[int, float]]:
    found: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def _tree_cpu_s(root: int, table: Mapping[int, tuple[int, float]]) -> float:
    """CPU seconds of `root` and every descendant (nginx's worker is its master's child)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def _machine() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(v) for v in stat.readline().split()[1:]]


@dataclass(frozen=True, slots=True)
class CPUSample:
    wall_s: float
    trees: dict[str, float]
    wrk_s: float
    machine: list[int]


def cpu_sample(components: Mapping[str, int], wall_s: float) -> CPUSample:
    table = _all_processes()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CPUSample(
        wall_s=wall_s,
        trees={name: _tree_cpu_s(pid, table) for name, pid in components.items()},
        wrk_s=usage.ru_utime + usage.ru_stime,
        machine=_machine(),
    )


def cpu_usage(before: CPUSample, after: CPUSample, requests: int) -> dict[str, Any]:
    """CPU µs per request and cores used by each component; machine busy and steal shares."""
    wall = max(after.wall_s - before.wall_s, 1e-9)
    spent = {name: after.trees[name] - before.trees[name] for name in after.trees}
    spent["wrk"] = after.wrk_s - before.wrk_s
    ticks = [a - b for a, b in zip(after.machine, before.machine, strict=False)]
    total = sum(ticks) or 1
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    steal = ticks[7] if len(ticks) > 7 else 0
    per = max(requests, 1)
    busy = 1 - idle / total
    cores = {k: v / wall for k, v in spent.items()}
    return {
        "cpu_us_per_req": {k: round(v * 1e6 / per, 1) for k, v in spent.items()},
        "cores": {k: round(v, 2) for k, v in cores.items()},
        "total_cpu_us_per_req": round(sum(spent.values()) * 1e6 / per, 1),
        "machine_busy": round(busy, 3),
        # Busy cores none of the measured processes account for: other load on the machine,
        # kernel threads (ksoftirqd), the harness. Large values mean a noisy run.
        "other_cores": round(max(0.0, busy * _CPUS - sum(cores.values())), 2),
        "steal": round(steal / total, 3),
    }
