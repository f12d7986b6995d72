"""Metrics read at scrape time from counts another part keeps itself (Envoy, the audit log, the
PDP): a declared `Family` per metric, and a collector that turns one snapshot into samples."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

T = TypeVar("T")
Sample = tuple[tuple[str, ...], float]  # label values (in `Family.labels` order), value


@dataclass(frozen=True, slots=True)
class Family(Generic[T]):
    """One exported metric: its name (a counter's without `_total`), help, type, labels, and
    how its samples are read from a snapshot `T`."""

    name: str
    help: str
    kind: Literal["counter", "gauge"]
    labels: tuple[str, ...]
    samples: Callable[[T], Iterable[Sample]]

    def family(self) -> CounterMetricFamily | GaugeMetricFamily:
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=self.labels)
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


class SnapshotCollector(Collector, Generic[T]):
    """Exports `families` from what `read()` returns at each scrape; nothing when it is None."""

    def __init__(self, families: Sequence[Family[T]], read: Callable[[], T | None]) -> None:
        self._families = tuple(families)
        self._read = read

    def describe(self) -> Iterator[Metric]:
        for spec in self._families:
            yield spec.family()

    def collect(self) -> Iterator[Metric]:
        snapshot = self._read()
        if snapshot is None:
            return
        for spec in self._families:
            family = spec.family()
            for labels, value in spec.samples(snapshot):
                family.add_metric(list(labels), value)
            yield family


class AsyncSnapshot(Generic[T]):
    """The latest answer of an async source, fetched before each scrape (`refresh`).

    A source that fails or takes longer than `timeout_s` leaves no snapshot (its metrics are
    absent from that scrape rather than stale) and calls `on_failure`: a scrape never hangs.
    """

    def __init__(
        self,
        source: Callable[[], Awaitable[T | None]],
        *,
        timeout_s: float,
        on_failure: Callable[[], None],
    ) -> None:
        self._source = source
        self._timeout_s = timeout_s
        self._on_failure = on_failure
        self.latest: T | None = None

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                self.latest = await self._source()
        except Exception:  # any failure of the source is a missed reading, counted
            self.latest = None
        if self.latest is None:
            self._on_failure()
